// Behaviour every console page shares, kept out of the templates so the CSP can forbid inline script:
// a form with data-confirm="question" asks before it is submitted; an HTMX request the server refuses (or that
// never arrives) says so in the page's alert banner, in the server's words when it sent some.
(function () {
  "use strict";
  document.addEventListener("submit", function (e) {
    var form = e.target;
    var question = form && form.getAttribute ? form.getAttribute("data-confirm") : null;
    if (question && !window.confirm(question)) {
      e.preventDefault();
      e.stopImmediatePropagation();
    }
  }, true);

  function showError(text) {
    var box = document.getElementById("console-error");
    if (!box) { return; }
    box.textContent = text || box.getAttribute("data-fallback");  // text, never markup
    box.hidden = false;
  }
  document.addEventListener("htmx:responseError", function (e) {
    var message = null;
    try {
      var body = JSON.parse(e.detail.xhr.responseText);
      if (body && typeof body.message === "string") { message = body.message; }
    } catch (ignored) { /* not JSON: the fallback sentence */ }
    showError(message);
  });
  document.addEventListener("htmx:sendError", function () { showError(null); });
  document.addEventListener("htmx:afterRequest", function (e) {
    var box = document.getElementById("console-error");
    if (box && e.detail.successful) { box.hidden = true; }
  });
})();
