// The sign-in page's only script (the CSP allows no inline script): a new captcha without
// reloading the page, and another language without losing what was typed: the page in the
// new language is fetched, and the fields as they are (account, password, captcha) move into
// it. Without the script, the form's language field applies at the next submit.
(function () {
  "use strict";
  var KEPT = ["account", "domain", "password", "captcha_0", "captcha_1"];

  function bindCaptcha() {
    var field = document.querySelector(".captcha-field");
    var link = field && field.querySelector(".captcha-refresh");
    if (!link) return;
    link.addEventListener("click", function (event) {
      event.preventDefault();
      fetch(field.getAttribute("data-refresh-url"), {
        headers: { "X-Requested-With": "XMLHttpRequest" },
        credentials: "same-origin",
      })
        .then(function (response) {
          if (!response.ok) throw new Error(response.status);
          return response.json();
        })
        .then(function (data) {
          field.querySelector("img.captcha").src = data.image_url;
          field.querySelector("input[name='captcha_0']").value = data.key;
          var answer = field.querySelector("input[name='captcha_1']");
          answer.value = "";
          answer.focus();
        })
        .catch(function () {
          window.location.href = link.href; // the link still works: a fresh page, a fresh code
        });
    });
  }

  function switchLanguage(code) {
    var url = new URL(window.location.href);
    url.searchParams.set("language", code);
    fetch(url.toString(), { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error(response.status);
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        KEPT.forEach(function (name) {
          var mine = document.querySelector(".signin-form [name='" + name + "']");
          var theirs = fresh.querySelector(".signin-form [name='" + name + "']");
          if (mine && theirs) theirs.replaceWith(mine);
        });
        var image = document.querySelector(".captcha-field img.captcha");
        var freshImage = fresh.querySelector(".captcha-field img.captcha");
        if (image && freshImage) freshImage.replaceWith(image); // the code that was typed is this one's
        ["header.site-header", "main.site-main", "footer.site-footer"].forEach(function (selector) {
          var old = document.querySelector(selector);
          var replacement = fresh.querySelector(selector);
          if (old && replacement) old.replaceWith(document.adoptNode(replacement));
        });
        document.title = fresh.title;
        document.documentElement.lang = fresh.documentElement.lang;
        url.searchParams.delete("language");
        window.history.replaceState(null, "", url.pathname + url.search);
        bind();
        var select = document.querySelector(".signin-language");
        if (select) select.focus();
      })
      .catch(function () {
        window.location.href = url.toString(); // the plain way: a page in that language
      });
  }

  function bind() {
    bindCaptcha();
    var language = document.querySelector(".signin-language");
    if (language) {
      language.addEventListener("change", function () {
        switchLanguage(language.value);
      });
    }
  }

  bind();
})();
