// The legend switches record types on and off without a page load. Without JavaScript the
// legend entries are ordinary links that reload the page with ?hide=…, so this file only
// makes the same thing faster; the URL, the date form and the export link follow along.
(function () {
  "use strict";
  var table = document.getElementById("records");
  var legend = document.getElementById("legend");
  var form = document.getElementById("period-form");
  // on a phone or a tablet the legend starts folded, so that the first record is on the first screen
  var fold = document.getElementById("legend-fold");
  if (fold && window.matchMedia("(max-width: 860px)").matches) fold.open = false;
  if (!legend) return;
  var serverHidden = new Set(((table && table.dataset.serverHidden) || "").split(" ").filter(Boolean));
  var hidden = new Set(serverHidden);

  function withHidden(href) {
    var url = new URL(href, window.location.href);
    url.searchParams.delete("hide");
    Array.from(hidden).sort().forEach(function (key) { url.searchParams.append("hide", key); });
    return url.pathname + url.search;
  }

  function sync() {
    legend.querySelectorAll(".legend-item").forEach(function (item) {
      var off = hidden.has(item.dataset.type);
      item.classList.toggle("is-off", off);
      item.setAttribute("aria-pressed", off ? "false" : "true");
    });
    document.querySelectorAll("[data-carry-hide]").forEach(function (link) {
      link.setAttribute("href", withHidden(link.getAttribute("href")));
    });
    if (form) {
      form.querySelectorAll("input[name=hide]").forEach(function (input) { input.remove(); });
      hidden.forEach(function (key) {
        var input = document.createElement("input");
        input.type = "hidden";
        input.name = "hide";
        input.value = key;
        form.appendChild(input);
      });
    }
    window.history.replaceState(null, "", withHidden(window.location.href));
  }

  legend.addEventListener("click", function (event) {
    var item = event.target.closest(".legend-item");
    if (!item || !table) return;
    var key = item.dataset.type;
    // rows the server left out are not on the page: let the link fetch them
    if (serverHidden.has(key)) return;
    event.preventDefault();
    if (hidden.has(key)) hidden.delete(key); else hidden.add(key);
    table.classList.toggle("hide-" + key, hidden.has(key));
    sync();
  });
})();
