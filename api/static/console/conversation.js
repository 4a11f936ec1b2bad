// Chat page helpers: keep the transcript scrolled to the newest message, Ctrl+Enter sends, canned replies
// and checklists are inserted at the cursor, and a banner offers a reload when someone else changed the chat.
(function () {
  "use strict";
  var messages = document.getElementById("messages");
  function scrollDown() { if (messages) messages.scrollTop = messages.scrollHeight; }
  scrollDown();
  document.body.addEventListener("htmx:afterSwap", function (e) {
    if (e.target === messages) scrollDown();
  });

  function textarea() { return document.getElementById("reply-text"); }
  function insert(text) {
    var ta = textarea();
    if (!ta) return;
    var start = ta.selectionStart || 0, end = ta.selectionEnd || 0, value = ta.value;
    var before = value.slice(0, start), after = value.slice(end);
    var sep = before && !before.endsWith("\n") ? "\n" : "";
    ta.value = before + sep + text + after;
    ta.focus();
    var pos = (before + sep + text).length;
    ta.setSelectionRange(pos, pos);
    ta.dispatchEvent(new Event("input", { bubbles: true }));  // re-run the live R14 hint
  }

  document.addEventListener("keydown", function (e) {
    var ta = textarea();
    if (ta && e.target === ta && e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      var form = ta.form;
      if (form.requestSubmit) form.requestSubmit(); else form.submit();
    }
  });
  document.addEventListener("click", function (e) {
    var btn = e.target.closest ? e.target.closest("button.insert") : null;
    if (btn) { insert(btn.getAttribute("data-text")); return; }
    if (e.target.id === "insert-checklist") {
      var slug = document.getElementById("checklist-topic").value;
      var lang = e.target.getAttribute("data-lang") || "zh_Hans";
      var failed = e.target.getAttribute("data-error");  // in the staff member's language
      fetch("/console/canned/checklist?slug=" + encodeURIComponent(slug) + "&lang=" + encodeURIComponent(lang),
            { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(insert)
        .catch(function () { alert(failed); });
    }
  });

  // Someone else claimed, transferred or closed this chat: offer a reload instead of losing a draft.
  var mine = false;
  document.addEventListener("submit", function () { mine = true; setTimeout(function () { mine = false; }, 3000); });
  document.body.addEventListener("live-state", function () {
    if (mine) return;
    var banner = document.getElementById("state-banner");
    var ta = textarea();
    if (!ta || !ta.value.trim()) { window.location.reload(); return; }
    if (banner) banner.hidden = false;
  });
})();
