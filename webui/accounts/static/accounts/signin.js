// The sign-in page's only script (the CSP allows no inline script): a new captcha without
// reloading the page, and the language applied as soon as it is picked.
(function () {
  "use strict";
  var field = document.querySelector(".captcha-field");
  var link = field && field.querySelector(".captcha-refresh");
  if (link) {
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
  var language = document.querySelector(".signin-language");
  if (language) {
    language.addEventListener("change", function () {
      var url = new URL(window.location.href);
      url.searchParams.set("language", language.value);
      window.location.href = url.toString();
    });
  }
})();
