// The sandbox chat page (api/sandbox/page.html); a file, not an inline <script>, for the CSP (issue 12 F3).
"use strict";
const S = { personas: [], active: null, after: 0, pollId: 0, revision: 0, forceReplyTo: null, firstLoad: true,
            seen: JSON.parse(localStorage.getItem("sandbox-seen") || "{}"), stick: true };
const $ = (sel) => document.querySelector(sel);
const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = text; return e; };

async function api(path, opts = {}) {
  if (opts.json !== undefined) {
    opts = { ...opts, method: opts.method || "POST", headers: { "Content-Type": "application/json" },
             body: JSON.stringify(opts.json) };
  }
  const r = await fetch(path, opts);
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(typeof body.detail === "string" ? body.detail : r.statusText);
  return body;
}
const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

// ---------------------------------------------------------------- personas
function renderPersonas() {
  const nav = $("#personas");
  nav.replaceChildren();
  for (const p of S.personas) {
    const b = el("button", "persona-tab" + (p.blocked ? " blocked" : ""));
    b.type = "button"; b.id = "persona-" + p.user_id; b.setAttribute("role", "tab");
    b.setAttribute("aria-selected", String(p.user_id === S.active));
    b.dataset.userId = p.user_id;
    b.append(el("span", "persona-name", [p.first_name, p.last_name].filter(Boolean).join(" ")));
    const unread = p.user_id === S.active ? 0 : Math.max(0, p.bot_messages - (S.seen[p.user_id] || 0));
    b.append(el("span", "unread", unread ? String(unread) : ""));
    b.addEventListener("click", () => selectPersona(p.user_id));
    nav.append(b);
  }
  const me = S.personas.find((p) => p.user_id === S.active);
  const blockBtn = $("#block-btn");
  blockBtn.setAttribute("aria-pressed", String(!!(me && me.blocked)));
  blockBtn.textContent = me && me.blocked ? "Unblock bot" : "Block bot";
}

function markSeen() {
  const me = S.personas.find((p) => p.user_id === S.active);
  if (me) { S.seen[me.user_id] = me.bot_messages; localStorage.setItem("sandbox-seen", JSON.stringify(S.seen)); }
}

async function pollPersonas() {
  for (;;) {
    try {
      const data = await api(`/sandbox/api/personas?after=${S.revision}&wait=25`);
      S.revision = data.revision; S.personas = data.personas; markSeen(); renderPersonas();
    } catch (e) { await sleep(2000); }
  }
}

function selectPersona(userId) {
  S.active = userId; S.after = 0; S.forceReplyTo = null; S.firstLoad = true; S.stick = true; S.pollId += 1;
  $("#messages").replaceChildren(); $("#reply-kb").replaceChildren(); $("#menu").classList.remove("show");
  history.replaceState(null, "", "#" + userId);
  markSeen(); renderPersonas(); pollChat(S.pollId);
}

// ---------------------------------------------------------------- chat
async function pollChat(pollId) {
  while (pollId === S.pollId) {
    try {
      const wait = S.firstLoad ? 0 : 25;
      const data = await api(`/sandbox/api/personas/${S.active}/chat?after=${S.after}&wait=${wait}`);
      if (pollId !== S.pollId) return;
      applyChat(data);
      S.after = data.last_seq; S.firstLoad = false;
    } catch (e) { await sleep(2000); }
  }
}

function applyChat(data) {
  const box = $("#messages");
  for (const entry of data.entries) {
    if (entry.kind === "edit") { renderMessage(entry.message); continue; }
    if (entry.kind === "delete") { removeMessage(entry.message_id); continue; }
    if (entry.kind === "toast") { if (!S.firstLoad && entry.text) showToast(entry.text, entry.show_alert); continue; }
    if (entry.kind === "action") continue;
    renderMessage(data.messages[entry.message_id] || entry);
  }
  renderReplyKeyboard(data.reply_keyboard);
  S.forceReplyTo = null;
  const input = $("#composer-input");
  const kbPlaceholder = data.reply_keyboard && data.reply_keyboard.input_field_placeholder;
  input.placeholder = (data.force_reply && data.force_reply.input_field_placeholder) || kbPlaceholder || "Message";
  if (data.force_reply) S.forceReplyTo = data.force_reply.message_id;
  const status = $("#status");
  status.textContent = data.chat_action ? actionLabel(data.chat_action) : "bot";
  status.classList.toggle("typing", !!data.chat_action);
  if (data.chat_action) setTimeout(() => { status.textContent = "bot"; status.classList.remove("typing"); }, 5000);
  if (data.persona) {
    const i = S.personas.findIndex((p) => p.user_id === data.persona.user_id);
    if (i >= 0) { S.personas[i] = data.persona; markSeen(); renderPersonas(); }
  }
  if (S.stick || S.firstLoad) box.scrollTop = box.scrollHeight;
}

function stickToBottom() { if (S.stick) { const box = $("#messages"); box.scrollTop = box.scrollHeight; } }

function actionLabel(action) {
  return { typing: "typing…", upload_photo: "sending a photo…", upload_document: "sending a file…",
           record_voice: "recording a voice note…", find_location: "choosing a location…" }[action] || action + "…";
}

function removeMessage(messageId) {
  document.querySelectorAll(`[data-message-id="${messageId}"]`).forEach((n) => n.remove());
}

function formatAmount(amount, currency) {
  const exp = ["XTR", "JPY", "KRW", "VND", "CLP"].includes(currency) ? 0 : 2;
  const value = amount / 10 ** exp;
  try { return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(value); }
  catch (e) { return `${value.toFixed(exp)} ${currency}`; }
}

function timeLabel(date) {
  const d = new Date(date * 1000);
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function renderMessage(m) {
  if (!m || m.deleted) { if (m) removeMessage(m.message_id); return; }
  const box = $("#messages");
  const group = el("div", "msg-group");
  group.dataset.messageId = m.message_id;
  group.style.display = "contents";
  let bubble;
  if (m.kind === "payment") {
    const p = m.successful_payment || {};
    bubble = el("div", "service msg-service", `Paid ${formatAmount(p.total_amount, p.currency)}`);
  } else {
    bubble = el("div", "msg " + (m.from === "bot" ? "bot" : "user"));
    if (m.reply_to_message_id) {
      const quoted = box.querySelector(`.msg[data-message-id="${m.reply_to_message_id}"] .msg-text`);
      bubble.append(el("div", "msg-reply", quoted ? quoted.textContent : `#${m.reply_to_message_id}`));
    }
    renderContent(bubble, m);
    bubble.append(el("div", "msg-meta", (m.edited ? "edited " : "") + timeLabel(m.date)));
  }
  bubble.dataset.messageId = m.message_id;
  bubble.dataset.kind = m.kind;
  group.append(bubble);
  const markup = m.reply_markup;
  if (markup && markup.inline_keyboard && m.kind !== "invoice") group.append(renderInlineKeyboard(m, markup));
  const existing = box.querySelector(`.msg-group[data-message-id="${m.message_id}"]`);
  if (existing) existing.replaceWith(group); else box.append(group);
}

function renderContent(bubble, m) {
  if (m.file && m.kind === "photo") {
    const img = el("img", "photo"); img.src = m.file.url; img.alt = m.caption || "photo";
    img.addEventListener("load", stickToBottom); bubble.append(img);
  } else if (m.file && m.kind === "voice") {
    const wrap = el("div", "voice");
    wrap.append(el("span", null, `🎤 Voice note ${m.file.duration || 0}s `));
    const a = el("a", "file-link", "download"); a.href = m.file.url; a.target = "_blank"; wrap.append(a);
    bubble.append(wrap);
  } else if (m.file) {
    const a = el("a", "doc-link"); a.href = m.file.url; a.target = "_blank"; a.rel = "noopener";
    a.append(el("span", "doc-icon", "📄"));
    const info = el("span"); info.append(el("div", "doc-name", m.file.name || "file"));
    info.append(el("small", null, `${Math.max(1, Math.round((m.file.size || 0) / 1024))} KB`));
    a.append(info); bubble.append(a);
  }
  if (m.kind === "location" && m.location) {
    bubble.append(el("div", "location", `📍 ${m.location.latitude.toFixed(5)}, ${m.location.longitude.toFixed(5)}`));
  }
  if (m.kind === "contact" && m.contact) {
    const c = el("div", "card contact");
    c.append(el("div", "title", [m.contact.first_name, m.contact.last_name].filter(Boolean).join(" ")));
    c.append(el("div", null, m.contact.phone_number));
    bubble.append(c);
  }
  if (m.kind === "invoice" && m.invoice) {
    const inv = m.invoice; const c = el("div", "card invoice");
    c.append(el("div", "title", inv.title)); c.append(el("div", "desc", inv.description));
    c.append(el("div", "amount", formatAmount(inv.total_amount, inv.currency)));
    const pay = el("button", "pay-btn", inv.paid ? "Paid ✓" : `Pay ${formatAmount(inv.total_amount, inv.currency)}`);
    pay.type = "button"; pay.disabled = !!inv.paid; pay.dataset.messageId = m.message_id;
    pay.addEventListener("click", () => payInvoice(m.message_id, pay));
    c.append(pay); bubble.append(c);
  }
  if (m.html !== null && m.html !== undefined) {
    const t = el("div", "msg-text"); t.innerHTML = m.html; bubble.append(t);  // server-rendered, already safe
  }
  if (m.caption_html) { const t = el("div", "msg-caption"); t.innerHTML = m.caption_html; bubble.append(t); }
  bubble.querySelectorAll(".tg-spoiler").forEach((s) => s.addEventListener("click", () => s.classList.add("revealed")));
}

function renderInlineKeyboard(m, markup) {
  const kb = el("div", "inline-kb"); kb.dataset.messageId = m.message_id;
  for (const row of markup.inline_keyboard) {
    const r = el("div", "inline-row");
    for (const btn of row) {
      const b = el("button", "inline-btn", btn.text); b.type = "button";
      if (btn.callback_data !== undefined) {
        b.dataset.callbackData = btn.callback_data;
        b.addEventListener("click", () => pressButton(m.message_id, btn.callback_data, b));
      } else if (btn.url) {
        b.dataset.url = btn.url; b.title = btn.url;
        b.addEventListener("click", () => window.open(btn.url, "_blank", "noopener"));
      } else if (btn.copy_text) {
        b.addEventListener("click", () => navigator.clipboard && navigator.clipboard.writeText(btn.copy_text.text));
      } else if (btn.pay) {
        b.addEventListener("click", () => payInvoice(m.message_id, b));
      } else { b.disabled = true; }
      r.append(b);
    }
    kb.append(r);
  }
  return kb;
}

function renderReplyKeyboard(markup) {
  const box = $("#reply-kb");
  box.replaceChildren();
  if (!markup || !markup.keyboard) return;
  for (const row of markup.keyboard) {
    const r = el("div", "reply-row");
    for (const btn of row) {
      const spec = typeof btn === "string" ? { text: btn } : btn;
      const b = el("button", "reply-btn", spec.text); b.type = "button";
      if (spec.request_contact) b.dataset.requestContact = "true";
      if (spec.request_location) b.dataset.requestLocation = "true";
      b.addEventListener("click", () => {
        if (spec.request_contact) return sendPayload({ contact: true });
        if (spec.request_location) return sendLocation();
        return sendPayload({ text: spec.text });
      });
      r.append(b);
    }
    box.append(r);
  }
}

// ---------------------------------------------------------------- actions
function showToast(text, alertMode) {
  if (alertMode) { $("#alert-text").textContent = text; $("#alert").classList.add("show"); $("#alert-ok").focus(); return; }
  const t = $("#toast"); t.textContent = text; t.classList.add("show");
  clearTimeout(showToast.timer); showToast.timer = setTimeout(() => t.classList.remove("show"), 3000);
}

async function sendPayload(payload) {
  try {
    if (S.forceReplyTo && payload.text) payload = { ...payload, reply_to_message_id: S.forceReplyTo };
    await api(`/sandbox/api/personas/${S.active}/send`, { json: payload });
  } catch (e) { showToast("Not sent: " + e.message); }
}

async function sendForm(form) {
  try { await api(`/sandbox/api/personas/${S.active}/send`, { method: "POST", body: form }); }
  catch (e) { showToast("Not sent: " + e.message); }
}

function sendLocation() { return sendPayload({ location: { latitude: 39.9042, longitude: 116.4074 } }); }

async function pressButton(messageId, data, button) {
  button.classList.add("loading");
  try { await api(`/sandbox/api/personas/${S.active}/callback`, { json: { message_id: messageId, data } }); }
  catch (e) { showToast(e.message); }
  finally { setTimeout(() => button.classList.remove("loading"), 400); }
}

async function payInvoice(messageId, button) {
  const label = button.textContent; button.disabled = true; button.textContent = "Processing…";
  try {
    const r = await api(`/sandbox/api/personas/${S.active}/pay`, { json: { message_id: messageId } });
    if (!r.ok) { button.disabled = false; button.textContent = label; if (r.timeout) showToast(r.error_message, true); }
  } catch (e) { button.disabled = false; button.textContent = label; showToast(e.message, true); }
}

async function toggleMenu() {
  const menu = $("#menu");
  if (menu.classList.contains("show")) { menu.classList.remove("show"); return; }
  const info = await api("/sandbox/api/bot").catch(() => null);
  menu.replaceChildren();
  const me = S.personas.find((p) => p.user_id === S.active);
  const lang = me ? me.language_code : "";
  const sets = info ? info.commands : [];
  const pick = (scope, l) => sets.find((c) => c.scope === scope && c.language_code === l);
  const chosen = pick(`chat:${S.active}`, lang) || pick(`chat:${S.active}`, "") || pick("all_private_chats", lang)
    || pick("all_private_chats", "") || pick("default", lang) || pick("default", "");
  for (const c of (chosen ? chosen.commands : [])) {
    const b = el("button", "menu-cmd"); b.type = "button";
    b.append(el("span", "cmd", "/" + c.command)); b.append(el("span", null, c.description));
    b.addEventListener("click", () => { menu.classList.remove("show"); sendPayload({ text: "/" + c.command }); });
    menu.append(b);
  }
  if (!menu.children.length) menu.append(el("button", null, "(the bot set no commands)"));
  menu.classList.add("show");
}

$("#composer").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const input = $("#composer-input"); const text = input.value.trim();
  if (!text) return;
  input.value = ""; sendPayload({ text });
});
$("#menu-btn").addEventListener("click", toggleMenu);
$("#messages").addEventListener("scroll", () => {
  const box = $("#messages");  // follow new messages only while the reader is at the bottom
  S.stick = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
});
$("#contact-btn").addEventListener("click", () => sendPayload({ contact: true }));
$("#voice-btn").addEventListener("click", () => sendPayload({ voice: { duration: 3 } }));
$("#location-btn").addEventListener("click", sendLocation);
$("#photo-btn").addEventListener("click", () => $("#photo-input").click());
$("#document-btn").addEventListener("click", () => $("#document-input").click());
for (const kind of ["photo", "document"]) {
  $(`#${kind}-input`).addEventListener("change", (ev) => {
    const file = ev.target.files[0]; if (!file) return;
    const form = new FormData(); form.append(kind, file, file.name);
    const caption = $("#composer-input").value.trim();
    if (caption) { form.append("caption", caption); $("#composer-input").value = ""; }
    sendForm(form); ev.target.value = "";
  });
}
$("#block-btn").addEventListener("click", async () => {
  const me = S.personas.find((p) => p.user_id === S.active);
  try { await api(`/sandbox/api/personas/${S.active}/block`, { json: { blocked: !(me && me.blocked) } }); }
  catch (e) { showToast(e.message); }
});
$("#alert-ok").addEventListener("click", () => $("#alert").classList.remove("show"));
$("#add-persona-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  try {
    const p = await api("/sandbox/api/personas", { json: Object.fromEntries(f.entries()) });
    ev.target.reset(); S.personas.push(p); selectPersona(p.user_id);
  } catch (e) { showToast(e.message); }
});

(async function start() {
  const data = await api("/sandbox/api/personas");
  S.personas = data.personas; S.revision = data.revision;
  const fromHash = Number(location.hash.slice(1));
  const first = S.personas.find((p) => p.user_id === fromHash) || S.personas[0];
  if (first) selectPersona(first.user_id);
  pollPersonas();
})();
