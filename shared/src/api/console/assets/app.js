// The clawhooks console: a small single-page app over the admin JSON
// routes. No framework and no build step; every value from the server is
// put in the page as text (never as HTML), and the page runs under a
// Content-Security-Policy that allows only this script.
"use strict";

const state = { csrf: null, secretHeader: "X-Webhook-Secret", config: null, stream: null, poll: null, route: null };

// ---- small DOM helpers -------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "data") for (const [dk, dv] of Object.entries(v)) el.dataset[dk] = dv;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
const $ = (sel) => document.querySelector(sel);
const main = () => $("#main");

function toast(text, bad) {
  const t = $("#toast");
  t.textContent = text;
  t.className = "toast" + (bad ? " bad" : "");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => t.classList.add("hidden"), 4000);
}

function ago(iso) {
  if (!iso) return "";
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (s < 5) return "just now";
  if (s < 60) return s + "s ago";
  if (s < 3600) return Math.floor(s / 60) + "m ago";
  if (s < 86400) return Math.floor(s / 3600) + "h ago";
  return Math.floor(s / 86400) + "d ago";
}
const when = (iso) => h("span", { title: iso || "" }, ago(iso));
const short = (id) => (id && id.length > 13 ? id.slice(0, 8) + "…" + id.slice(-4) : id || "");
const pill = (text, cls) => h("span", { class: "pill " + (cls || text) }, text);
const field = (label, value) => h("div", { class: "field" }, h("div", { class: "label" }, label), h("div", { class: "value" }, value ?? "—"));
const pretty = (v) => (typeof v === "string" ? prettyText(v) : JSON.stringify(v, null, 2));
function prettyText(s) {
  try { return JSON.stringify(JSON.parse(s), null, 2); } catch (_) { return s; }
}
function cell(label, ...content) { return h("td", { "data-label": label }, ...content); }
function table(headers, rows, empty) {
  if (!rows.length) return h("div", { class: "empty" }, empty);
  return h("table", { class: "responsive" },
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", {}, x)))),
    h("tbody", {}, rows));
}

// ---- talking to the gateway --------------------------------------------

class Refused extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (method !== "GET" && state.csrf) headers["X-CSRF-Token"] = state.csrf;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, { method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body) });
  let data = null;
  try { data = await r.json(); } catch (_) { /* not JSON */ }
  if (r.status === 401) { showLogin(); throw new Refused(401, "signed out"); }
  if (!r.ok) throw new Refused(r.status, (data && data.error) || r.statusText);
  return data;
}

async function checkSession() {
  const s = await (await fetch("/console/session", { credentials: "same-origin" })).json();
  state.secretHeader = s.secretHeader || state.secretHeader;
  if (!s.authenticated) {
    if (s.loginRequired) return showLogin();
    main().textContent = "";
    return showApp(h("div", { class: "card notice" }, "No admin secret is configured: the console works from this machine (loopback) only."), false);
  }
  state.csrf = s.csrf;
  showApp(null, s.loginRequired);
}

function showLogin() {
  stopLive();
  $("#app").classList.add("hidden");
  $("#login").classList.remove("hidden");
  $("#secret").focus();
}

function showApp(notice, canLogOut) {
  $("#login").classList.add("hidden");
  $("#app").classList.remove("hidden");
  $("#logout").classList.toggle("hidden", canLogOut === false);
  $("#logout-all").classList.toggle("hidden", canLogOut === false);
  if (notice) main().append(notice);
  else route();
}

async function login(ev) {
  ev.preventDefault();
  const err = $("#login-error");
  err.classList.add("hidden");
  const body = new URLSearchParams({ secret: $("#secret").value });
  const r = await fetch("/console/login", { method: "POST", body, credentials: "same-origin" });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) {
    err.textContent = r.status === 429 ? "Too many failed attempts: wait a minute." : "That is not the admin secret.";
    err.classList.remove("hidden");
    return;
  }
  $("#secret").value = "";
  state.csrf = data.csrf;
  showApp(null, true);
}

async function logout() {
  await fetch("/console/logout", { method: "POST", headers: { "X-CSRF-Token": state.csrf || "" }, credentials: "same-origin" });
  state.csrf = null;
  showLogin();
}

// Every session, in every browser: the server replaces the console key.
async function logoutEverywhere() {
  await fetch("/console/logout-everywhere", { method: "POST", headers: { "X-CSRF-Token": state.csrf || "" }, credentials: "same-origin" });
  state.csrf = null;
  showLogin();
}

// ---- routing -------------------------------------------------------------

const pages = {
  events: eventsPage,
  event: eventPage,
  sessions: sessionsPage,
  session: sessionPage,
  deliveries: deliveriesPage,
  "dead-letters": deadLettersPage,
  subscriptions: (arg) => subscriptionsPage(arg), // assets/subscriptions.js
  playground: (arg) => playgroundPage(arg), // assets/playground.js
  config: configPage,
  send: sendPage,
};

function route() {
  const parts = (location.hash.replace(/^#\/?/, "") || "events").split("/");
  const name = parts[0];
  const arg = decodeURIComponent(parts.slice(1).join("/"));
  const page = pages[name] || eventsPage;
  const nav = name === "event" ? "events" : name === "session" ? "sessions" : name;
  document.querySelectorAll(".sidebar a").forEach((a) => a.classList.toggle("active", a.dataset.page === nav));
  state.route = name;
  if (name !== "events") stopLive();
  main().textContent = "";
  page(arg).catch((e) => {
    if (e instanceof Refused && e.status === 401) return;
    main().append(h("div", { class: "card" }, h("p", { class: "error" }, "Could not load this page: " + e.message)));
  });
}

function head(title, subtitle, ...actions) {
  return h("div", { class: "page-head" },
    h("div", {}, h("h1", {}, title), subtitle ? h("p", { class: "muted" }, subtitle) : null),
    h("div", { class: "actions" }, actions));
}

// ---- events ----------------------------------------------------------------

const STATUSES = ["queued", "processing", "done", "failed", "skipped"];

async function eventsPage() {
  const q = new URLSearchParams(location.hash.split("?")[1] || "");
  const filters = { hook: q.get("hook") || "", handler: q.get("handler") || "", status: q.get("status") || "", session: q.get("session") || "" };
  const input = (name, placeholder) => h("input", { name, placeholder, value: filters[name], "aria-label": placeholder });
  const status = h("select", { name: "status", "aria-label": "Status" },
    h("option", { value: "" }, "Any status"), STATUSES.map((s) => h("option", { value: s, selected: s === filters.status }, s)));
  const form = h("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); applyFilters(form); } },
    input("hook", "Hook id"), input("handler", "Handler"), status, input("session", "Session key"),
    h("button", { type: "submit" }, "Filter"));
  status.addEventListener("change", () => applyFilters(form));
  const body = h("tbody", { id: "event-rows" });
  const list = h("div", { class: "card flush" },
    h("table", { class: "responsive" },
      h("thead", {}, h("tr", {}, ["Status", "Event", "Hook", "Handler", "Session", "Received", "Attempts"].map((x) => h("th", {}, x)))),
      body));
  const more = h("div", { class: "more" });
  const note = h("div");
  main().append(head("Events", "Every hook the gateway accepted, newest first."), form, note, list, more);
  state.events = { filters, rows: new Map(), body };
  await loadEvents(filters, null, body, more, note);
  startLive();
}

function applyFilters(form) {
  const q = new URLSearchParams();
  for (const el of form.elements) if (el.name && el.value) q.set(el.name, el.value);
  location.hash = "#/events" + (q.toString() ? "?" + q : "");
}

async function loadEvents(filters, cursor, body, more, note) {
  const q = new URLSearchParams({ limit: "50" });
  for (const [k, v] of Object.entries(filters)) if (v) q.set(k, v);
  if (cursor) q.set("cursor", cursor);
  const page = await api("GET", "/events?" + q);
  for (const r of page.events) body.append(eventRow(r, false));
  if (!body.children.length) body.append(h("tr", { class: "empty-row" }, h("td", { colspan: 7, class: "empty" }, "No events yet. Send a hook to see it here.")));
  note.textContent = "";
  if (page.boundHit) note.append(h("div", { class: "notice" }, `Looked through ${page.scanned.toLocaleString()} events without filling a page; older matches may exist.`));
  more.textContent = "";
  if (page.nextCursor) more.append(h("button", { onclick: () => loadEvents(filters, page.nextCursor, body, more, note) }, page.boundHit ? "Keep looking" : "Load older"));
}

function matches(r, f) {
  return (!f.hook || r.hookId === f.hook) && (!f.handler || r.handlerId === f.handler) &&
    (!f.status || r.status === f.status) && (!f.session || r.sessionKey === f.session);
}

function eventRow(r, fresh) {
  const open = () => { location.hash = "#/event/" + encodeURIComponent(r.eventId); };
  const row = h("tr", { class: "link" + (fresh ? " fresh" : ""), data: { id: r.eventId, received: r.receivedAt, updated: r.updatedAt }, onclick: open },
    cell("Status", pill(r.status)),
    cell("Event", h("a", { href: "#/event/" + encodeURIComponent(r.eventId), class: "mono" }, short(r.eventId))),
    cell("Hook", r.hookId),
    h("td", { "data-label": "Handler", class: "optional" }, r.handlerId || "—"),
    cell("Session", h("span", { class: "mono" }, short(r.sessionKey))),
    cell("Received", when(r.receivedAt)),
    h("td", { "data-label": "Attempts", class: "optional" }, String(r.attempts)));
  if (r.error) row.title = r.error;
  state.events && state.events.rows.set(r.eventId, row);
  return row;
}

/// Records from the stream (or a poll): update rows in place, put new
/// ones at the top.
function merge(records) {
  const ev = state.events;
  if (state.route !== "events" || !ev) return;
  const sorted = records.slice().sort((a, b) => Date.parse(a.receivedAt) - Date.parse(b.receivedAt));
  for (const r of sorted) {
    if (!matches(r, ev.filters)) continue;
    const old = ev.body.querySelector(`tr[data-id="${CSS.escape(r.eventId)}"]`);
    if (old) {
      if (old.dataset.updated !== r.updatedAt) old.replaceWith(eventRow(r, true));
      continue;
    }
    const newest = ev.body.querySelector("tr[data-received]");
    if (newest && Date.parse(newest.dataset.received) > Date.parse(r.receivedAt)) continue;
    const empty = ev.body.querySelector(".empty-row");
    if (empty) empty.remove();
    ev.body.prepend(eventRow(r, true));
  }
}

function startLive() {
  stopLive();
  const live = $("#live");
  if (!window.EventSource) return startPolling();
  const es = new EventSource("/console/stream");
  state.stream = es;
  let failures = 0;
  // A proxy that buffers responses (API Gateway) never lets `ready` through.
  const buffered = setTimeout(() => { if (state.stream === es) startPolling(); }, 5000);
  es.addEventListener("ready", () => { clearTimeout(buffered); failures = 0; live.className = "live on"; live.textContent = "Live"; });
  es.addEventListener("events", (m) => merge(JSON.parse(m.data)));
  es.onerror = () => {
    failures += 1;
    live.className = "live"; live.textContent = "reconnecting…";
    // CLOSED: the server refused the stream (204 behind API Gateway, 503
    // when too many are open) and the browser will not retry.
    if (failures >= 2 || es.readyState === EventSource.CLOSED) { clearTimeout(buffered); startPolling(); }
  };
}

function startPolling() {
  stopLive();
  const live = $("#live");
  live.className = "live polling"; live.textContent = "Polling";
  state.poll = setInterval(async () => {
    try { merge((await api("GET", "/events?limit=50")).events); } catch (_) { /* next tick */ }
  }, 2000);
}

function stopLive() {
  if (state.stream) { state.stream.close(); state.stream = null; }
  if (state.poll) { clearInterval(state.poll); state.poll = null; }
  const live = $("#live");
  if (live) { live.className = "live hidden"; live.textContent = ""; }
}

// ---- one event -----------------------------------------------------------

async function eventPage(id) {
  const [{ event: e, reply }, deliveries] = await Promise.all([
    api("GET", "/events/" + encodeURIComponent(id)),
    api("GET", "/events/" + encodeURIComponent(id) + "/deliveries").catch(() => ({ emitted: [] })),
  ]);
  main().append(head("Event " + short(e.eventId), null, h("a", { href: "#/events" }, "← All events")));
  main().append(h("div", { class: "card" },
    h("div", { class: "grid" },
      field("Status", pill(e.status)),
      field("Event id", h("span", { class: "mono" }, e.eventId)),
      field("Hook", e.hookId),
      field("Handler", e.handlerId || "none matched"),
      field("Session", h("a", { href: "#/session/" + encodeURIComponent(e.sessionKey), class: "mono" }, e.sessionKey)),
      field("Received", h("span", { title: e.receivedAt }, new Date(e.receivedAt).toLocaleString())),
      field("Last change", when(e.updatedAt)),
      field("Attempts", String(e.attempts)))));
  main().append(resultCard(e), replyCard(e, reply));
  if (e.request) main().append(requestCard(e.request));
  main().append(deliveriesCard(deliveries));
}

function resultCard(e) {
  const card = h("div", { class: "card", id: "result" }, h("h2", {}, "What the action did"));
  if (e.rendered) card.append(h("h2", {}, "Rendered template"), h("pre", { id: "rendered" }, e.rendered));
  if (e.error) card.append(h("p", { class: "error" }, e.error));
  const r = e.result;
  if (r === undefined || r === null) {
    card.append(h("p", { class: "muted" }, e.status === "done" ? "The action returned nothing." : "No result yet."));
    return card;
  }
  const answer = typeof r === "object" ? r.answer || r.text : null;
  if (typeof answer === "string") card.append(h("h2", {}, r.agent ? "Agent " + r.agent + " answered" : "Answer"), h("div", { class: "answer" }, answer));
  card.append(h("pre", { id: "result-json" }, pretty(r)));
  return card;
}

function requestCard(req) {
  const rows = Object.entries(req.headers || {}).map(([k, v]) => h("tr", {}, h("td", {}, k), h("td", {}, v)));
  const query = Object.entries(req.query || {});
  return h("div", { class: "card" },
    h("h2", {}, "Received", h("span", { class: "muted mono" }, "from " + req.sourceIp)),
    h("table", { class: "kv" }, h("tbody", {}, rows)),
    h("p", { class: "muted" }, "Credential headers (Authorization, cookies, the secret header and stripHeaders) are never kept."),
    query.length ? h("p", {}, "Query: ", h("span", { class: "mono" }, new URLSearchParams(query).toString())) : null,
    h("h2", {}, "Body" + (req.bodyTruncated ? " (first 16 KiB)" : "")),
    h("pre", {}, req.body ? prettyText(req.body) : "(empty)"));
}

function deliveriesCard(d) {
  const rows = [];
  for (const e of d.emitted || []) {
    for (const a of e.attempts) {
      rows.push(h("tr", {},
        cell("Event type", h("span", { class: "mono" }, a.eventType)),
        cell("Subscription", a.subscription),
        cell("Attempt", String(a.attempt)),
        cell("Outcome", pill(a.outcome), a.deadLettered ? " " : null, a.deadLettered ? pill("dead-lettered", "dead") : null),
        cell("HTTP", a.status ? String(a.status) : "—"),
        cell("Latency", a.latencyMs !== undefined ? a.latencyMs + " ms" : "—"),
        cell("Response", h("span", { class: "mono wrap" }, (a.response || a.error || "").slice(0, 1024))),
        cell("When", when(a.time))));
    }
  }
  return h("div", { class: "card flush" },
    h("h2", { class: "pad" }, "Outgoing deliveries"),
    table(["Event type", "Subscription", "#", "Outcome", "HTTP", "Latency", "Response", "When"], rows,
      "No outgoing webhook received what this hook emitted (yet)."));
}

// ---- sessions ----------------------------------------------------------------

async function sessionsPage() {
  const { sessions } = await api("GET", "/sessions?limit=200");
  const rows = sessions.map((s) => h("tr", { class: "link", onclick: () => { location.hash = "#/session/" + encodeURIComponent(s.key); } },
    cell("Session", h("span", { class: "mono" }, s.key)),
    cell("Kind", s.persistent ? "persistent" : "per hook"),
    cell("Hook", s.hookId),
    cell("Messages", String(s.messageCount)),
    cell("Last activity", when(s.lastActivity)),
    cell("Idle in", h("span", {}, Math.max(0, Math.round(s.idleAt - Date.now() / 1000)) + "s"))));
  main().append(head("Sessions", "Live sessions, most recently active first."),
    h("div", { class: "card flush" }, table(["Session", "Kind", "Hook", "Messages", "Last activity", "Idle in"], rows, "No live sessions.")));
}

async function sessionPage(key) {
  const { session: s } = await api("GET", "/sessions/" + encodeURIComponent(key));
  const end = h("button", { class: "danger", id: "end-session", disabled: !!s.ended, onclick: async () => {
    if (!confirm("End session " + key + "? session_ended goes out to subscribers.")) return;
    try { await api("DELETE", "/sessions/" + encodeURIComponent(key)); toast("Session ended"); route(); } catch (e) { toast(e.message, true); }
  } }, s.ended ? "Ended" : "End session");
  main().append(head("Session", null, h("a", { href: "#/sessions" }, "← All sessions"), end));
  main().append(h("div", { class: "card" }, h("div", { class: "grid" },
    field("Key", h("span", { class: "mono" }, s.key)),
    field("State", s.ended ? pill("ended " + ago(s.ended.at) + " (" + s.ended.reason + ")", "failed") : pill("live", "done")),
    field("Messages", String(s.messageCount)),
    field("Hook", s.hookId),
    field("Started", when(s.createdAt)),
    field("Last activity", when(s.lastActivity)),
    field("Events", h("a", { href: "#/events?session=" + encodeURIComponent(s.key) }, "Show its events")))));
  const history = (s.history || []).map((m) => h("div", { class: "bubble " + m.role }, m.text,
    h("div", { class: "meta" }, m.role + " · " + ago(m.at) + " · ", h("a", { href: "#/event/" + encodeURIComponent(m.eventId) }, short(m.eventId)))));
  main().append(await threadCard(s.key));
  main().append(h("div", { class: "card" }, h("h2", {}, "History"), history.length ? h("div", { class: "chat" }, history) : h("p", { class: "muted" }, "No messages kept.")));
}

// ---- deliveries ----------------------------------------------------------------

async function deliveriesPage() {
  const q = new URLSearchParams(location.hash.split("?")[1] || "");
  const sub = q.get("subscription") || "", outcome = q.get("outcome") || "";
  const { attempts } = await api("GET", "/deliveries?limit=500");
  const subs = [...new Set(attempts.map((a) => a.subscription))].sort();
  const outcomes = [...new Set(attempts.map((a) => a.outcome))].sort();
  const pick = (name, label, values, current) => {
    const s = h("select", { name, "aria-label": label }, h("option", { value: "" }, label), values.map((v) => h("option", { value: v, selected: v === current }, v)));
    s.addEventListener("change", () => {
      const n = new URLSearchParams(location.hash.split("?")[1] || "");
      if (s.value) n.set(name, s.value); else n.delete(name);
      location.hash = "#/deliveries" + (n.toString() ? "?" + n : "");
    });
    return s;
  };
  const shown = attempts.filter((a) => (!sub || a.subscription === sub) && (!outcome || a.outcome === outcome));
  const rows = shown.map((a) => h("tr", {},
    cell("When", when(a.time)),
    cell("Subscription", a.subscription),
    cell("Event", h("span", { class: "mono" }, short(a.eventId))),
    cell("Type", h("span", { class: "mono" }, a.eventType)),
    cell("Outcome", pill(a.outcome)),
    cell("HTTP", a.status ? String(a.status) : "—"),
    cell("Latency", a.latencyMs !== undefined ? a.latencyMs + " ms" : "—"),
    cell("Error", h("span", { class: "wrap" }, a.error || ""))));
  main().append(head("Deliveries", "The latest outgoing webhook attempts."),
    h("div", { class: "filters" }, pick("subscription", "All subscriptions", subs, sub), pick("outcome", "Any outcome", outcomes, outcome)),
    h("div", { class: "card flush" }, table(["When", "Subscription", "Event", "Type", "Outcome", "HTTP", "Latency", "Error"], rows, "No delivery attempts yet.")));
}

// ---- dead letters ----------------------------------------------------------------

async function deadLettersPage() {
  // A handler listing the backend refuses (501 on SQS FIFO) is shown, not hidden.
  const [delivery, handler] = await Promise.all([api("GET", "/dlq"), api("GET", "/dlq/handler").catch((e) => e)]);
  main().append(head("Dead letters", "What ran out of retries. Replaying puts it back for a fresh round."));
  const picked = new Set();
  const key = (d) => d.eventId + "\u0000" + d.subscription;
  const rows = delivery.deadLetters.map((d) => {
    const box = h("input", { type: "checkbox", "aria-label": "Select", onchange: (e) => { e.target.checked ? picked.add(key(d)) : picked.delete(key(d)); } });
    return h("tr", {},
      cell("", box),
      cell("Subscription", d.subscription),
      cell("Hook event", d.inboundEventId ? h("a", { href: "#/event/" + encodeURIComponent(d.inboundEventId), class: "mono" }, short(d.inboundEventId)) : h("span", { class: "mono" }, short(d.eventId))),
      cell("Type", h("span", { class: "mono" }, d.eventType)),
      cell("Attempts", String(d.attempts)),
      cell("Dead since", when(d.deadLetteredAt)),
      cell("Last error", h("span", { class: "wrap" }, d.lastError || "")),
      cell("", h("button", { class: "replay-one", onclick: () => replayDeliveries([d]) }, "Replay")));
  });
  const selected = () => delivery.deadLetters.filter((d) => picked.has(key(d)));
  main().append(h("div", { class: "card flush" },
    h("div", { class: "page-head pad" }, h("h2", {}, `Outgoing deliveries (${delivery.count}${delivery.nextCursor ? ", the oldest; more in GET /dlq?cursor=" + delivery.nextCursor : ""})`),
      h("div", { class: "actions" },
        h("button", { onclick: () => replayDeliveries(selected()) }, "Replay selected"),
        h("button", { class: "primary", id: "replay-all", disabled: !delivery.count, onclick: () => replayDeliveries(null) }, "Replay all"))),
    table(["", "Subscription", "Hook event", "Type", "Attempts", "Dead since", "Last error", ""], rows, "No dead deliveries.")));
  if (handler instanceof Error) {
    main().append(h("div", { class: "card notice", id: "handler-dlq-error" },
      h("h2", {}, "Hooks the handler gave up on"),
      h("p", { class: "wrap" }, `Cannot list them here (${handler.status || "error"}): ${handler.message}`)));
  } else {
    const hrows = handler.deadLetters.map((d) => h("tr", {},
      cell("Event", h("a", { href: "#/event/" + encodeURIComponent(d.eventId), class: "mono" }, short(d.eventId))),
      cell("Hook", d.hookId),
      cell("Handler", d.handlerId || "—"),
      cell("Received", when(d.receivedAt)),
      cell("", h("button", { onclick: () => replayHandler(d.eventId) }, "Replay"))));
    main().append(h("div", { class: "card flush" },
      h("div", { class: "page-head pad" }, h("h2", {}, `Hooks the handler gave up on (${handler.count}${handler.nextCursor ? ", the oldest; more in GET /dlq/handler?cursor=" + handler.nextCursor : ""})`),
        h("button", { disabled: !handler.count, onclick: () => replayHandler(null) }, "Replay all")),
      table(["Event", "Hook", "Handler", "Received", ""], hrows, "No hooks in the handler's dead-letter queue.")));
  }
}

async function replayDeliveries(letters) {
  try {
    let replayed = 0;
    if (letters === null) replayed = (await api("POST", "/dlq/replay", {})).replayed;
    else for (const d of letters) replayed += (await api("POST", "/dlq/replay", { event: d.eventId, subscription: d.subscription })).replayed;
    toast(`Replayed ${replayed} dead letter${replayed === 1 ? "" : "s"}: delivery runs again now.`);
    route();
  } catch (e) { toast(e.message, true); }
}

async function replayHandler(eventId) {
  try {
    const r = await api("POST", "/dlq/handler/replay", eventId ? { event: eventId } : {});
    toast(`Replayed ${r.replayed} hook${r.replayed === 1 ? "" : "s"} to the handler.`);
    route();
  } catch (e) { toast(e.message, true); }
}

// ---- config ----------------------------------------------------------------

async function configPage() {
  const { config, warnings } = await api("GET", "/config");
  const w = config.webhooks || {};
  main().append(head("Config", "What this gateway runs. Secrets never leave the server."));
  main().append(h("div", { class: "card" }, h("h2", {}, "Validation"),
    warnings.length ? h("ul", { class: "warnings" }, warnings.map((x) => h("li", {}, pill("warning", "warn"), " ", h("span", { class: "mono" }, x.path), ": ", x.message)))
      : h("p", {}, pill("no warnings", "done"))));
  const handlers = (w.handlers || []).map((x) => h("tr", {},
    cell("Id", h("span", { class: "mono" }, x.id)), cell("Path", h("span", { class: "mono" }, "/webhook/" + (x.path || x.id).replace(/^\/+/, ""))),
    cell("Action", x.action), cell("Target", x.agentId || (x.target && x.target.channel) || (x.forward && x.forward.url) || "—"),
    cell("Session", x.sessionMode || "ephemeral"), cell("Enabled", x.enabled === false ? pill("off", "failed") : pill("on", "done"))));
  main().append(h("div", { class: "card flush" }, h("h2", { class: "pad" }, "Handlers"), table(["Id", "Path", "Action", "Target", "Session", "Enabled"], handlers, "No handlers.")));
  const subs = (w.outgoing || []).map((x) => h("tr", {},
    cell("Id", h("span", { class: "mono" }, x.id)), cell("URL", h("span", { class: "mono wrap" }, x.url)),
    cell("Events", (x.events || []).join(", ")), cell("Enabled", x.enabled === false ? pill("off", "failed") : pill("on", "done"))));
  main().append(h("div", { class: "card flush" }, h("h2", { class: "pad" }, "Outgoing subscriptions"), table(["Id", "URL", "Events", "Enabled"], subs, "No subscriptions.")));
  const named = (obj) => Object.entries(obj || {}).map(([k, v]) => h("tr", {}, cell("Name", h("span", { class: "mono" }, k)), cell("Settings", h("pre", {}, settings(v)))));
  main().append(h("div", { class: "card flush" }, h("h2", { class: "pad" }, "Channels"), table(["Name", "Settings"], named(w.channels), "No channels.")));
  main().append(h("div", { class: "card flush" }, h("h2", { class: "pad" }, "Agents"), table(["Name", "Settings"], named(w.agents), "No agents.")));
  main().append(h("div", { class: "card" }, h("h2", {}, "Incoming"), h("pre", {}, settings(w.incoming || {}))));
}

/// Settings as JSON without the unset ones (nulls, empty lists and maps).
function settings(v) {
  const unset = (x) => x === null || (Array.isArray(x) && !x.length) || (x && typeof x === "object" && !Array.isArray(x) && !Object.keys(x).length);
  return JSON.stringify(v, (k, x) => (k && unset(x) ? undefined : x), 2);
}

// ---- send a test hook ------------------------------------------------------

async function sendPage() {
  let hooks = [];
  try { hooks = ((await api("GET", "/config")).config.webhooks.handlers || []).map((x) => x.path || x.id); } catch (_) { /* free text then */ }
  const hook = h("input", { id: "hook-id", list: "hook-ids", value: hooks[0] || "", required: true });
  const secret = h("input", { id: "hook-secret", type: "password", autocomplete: "off", placeholder: "leave empty if the hook needs none" });
  const ctype = h("select", { id: "hook-type" }, ["application/json", "text/plain", "application/x-www-form-urlencoded"].map((t) => h("option", { value: t }, t)));
  const body = h("textarea", { id: "hook-body" }, JSON.stringify({ message: "Hello from the console", at: new Date().toISOString() }, null, 2));
  const out = h("div", { id: "send-result" });
  const form = h("form", { class: "card", onsubmit: async (e) => {
    e.preventDefault();
    out.textContent = "";
    const headers = { "Content-Type": ctype.value };
    if (secret.value) headers[state.secretHeader] = secret.value;
    const r = await fetch("/webhook/" + hook.value.split("/").map(encodeURIComponent).join("/"), { method: "POST", headers, body: body.value, credentials: "omit" });
    const data = await r.json().catch(() => ({}));
    out.append(h("div", { class: "card" }, h("h2", {}, "Answer ", pill(String(r.status), r.ok ? "done" : "failed")),
      data.eventId ? h("p", {}, "Event ", h("a", { href: "#/event/" + encodeURIComponent(data.eventId), class: "mono" }, data.eventId)) : null,
      h("pre", {}, JSON.stringify(data, null, 2))));
  } },
    h("label", { for: "hook-id" }, "Hook"), hook, h("datalist", { id: "hook-ids" }, hooks.map((x) => h("option", { value: x }))),
    h("label", { for: "hook-secret" }, "Secret (sent in " + state.secretHeader + ", never stored)"), secret,
    h("label", { for: "hook-type" }, "Content type"), ctype,
    h("label", { for: "hook-body" }, "Body"), body,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary wide" }, "Send")));
  main().append(head("Send a test hook", "Posts to /webhook/<hook> from this browser, as a sender would."), form, out);
}

// ---- start -------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("#login-form").addEventListener("submit", login);
  $("#logout").addEventListener("click", logout);
  $("#logout-all").addEventListener("click", logoutEverywhere);
  window.addEventListener("hashchange", () => { $("#toast").classList.add("hidden"); route(); });
  checkSession().catch((e) => toast("Could not reach the gateway: " + e.message, true));
});
