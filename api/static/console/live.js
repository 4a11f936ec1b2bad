// Live updates for console pages: one EventSource per page (URL in data-live); every event is re-dispatched
// on <body> as "live-<topic>" (and "live-message" for new chat messages) so htmx elements can refresh with
// hx-trigger="live-queue from:body". Events carry ids only; the HTML is fetched from the server. The status
// titles come translated from the page (data-title-on / data-title-off).
(function () {
  "use strict";
  var el = document.querySelector("[data-live]");
  if (!el || !window.EventSource) return;
  var source = new EventSource(el.getAttribute("data-live"));
  function fire(name, detail) {
    document.body.dispatchEvent(new CustomEvent(name, { bubbles: true, detail: detail }));
  }
  ["queue", "conversation", "tickets", "survey"].forEach(function (topic) {
    source.addEventListener(topic, function (e) {
      var data = {};
      try { data = JSON.parse(e.data); } catch (err) { /* keep going */ }
      fire("live-" + topic, data);
      if (topic === "conversation") fire(data.action === "message" ? "live-message" : "live-state", data);
    });
  });
  source.onopen = function () { el.classList.add("on"); el.title = el.getAttribute("data-title-on") || ""; };
  source.onerror = function () { el.classList.remove("on"); el.title = el.getAttribute("data-title-off") || ""; };
  window.addEventListener("beforeunload", function () { source.close(); });
})();
