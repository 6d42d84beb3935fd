// The console's views of conversations: what went back to a hook's caller
// and which coalesced turn answered it (the event page), and a session's
// events as the thread they came from (the session page). Loaded before
// app.js, whose helpers (h, pill, short, when, api) it uses when called.
"use strict";

const eventLink = (id) => h("a", { href: "#/event/" + encodeURIComponent(id), class: "mono" }, short(id));

/// The reply a caller that waited (`Prefer: wait`, a handler's `respond`)
/// got, and for a coalesced hook the turn that answered it.
function replyCard(e, reply) {
  const card = h("div", { class: "card", id: "reply" }, h("h2", {}, "Reply to the caller"));
  if (typeof reply === "string") card.append(h("div", { class: "answer", id: "reply-text" }, reply));
  else card.append(h("p", { class: "muted" }, e.status === "queued" || e.status === "processing" ? "Not handled yet." : "No reply: the action gave no text back."));
  const r = e.result || {};
  if (r.turn && r.turn !== e.eventId) {
    card.append(h("p", { id: "turn" }, "Folded into the coalesced turn of event ", eventLink(r.turn), ", which answered it."));
  } else if (Array.isArray(r.folded) && r.folded.length > 1) {
    card.append(h("p", { id: "turn" }, "This turn answered " + r.folded.length + " events: ",
      ...r.folded.flatMap((id, i) => (i ? [", ", eventLink(id)] : [eventLink(id)]))));
  }
  return card;
}

/// A session's events, oldest first, each hook's text followed by the
/// agent's reply; a coalesced turn's reply follows the last hook it folded.
async function threadCard(key) {
  const { events } = await api("GET", "/events?session=" + encodeURIComponent(key) + "&limit=200");
  const items = [];
  const ordered = events.slice().reverse();
  ordered.forEach((e, i) => {
    const r = e.result || {};
    items.push(h("div", { class: "bubble user", "data-event": e.eventId }, e.rendered || "(no text)",
      h("div", { class: "meta" }, "hook · " + ago(e.receivedAt) + " · ", pill(e.status), " · ", eventLink(e.eventId),
        r.turn && r.turn !== e.eventId ? h("span", {}, " · in turn ", eventLink(r.turn)) : null)));
    const turn = r.turn || e.eventId;
    const lastOfTurn = !ordered.slice(i + 1).some((n) => (n.result || {}).turn === turn);
    const answer = typeof r.answer === "string" ? r.answer : null;
    if (answer !== null && lastOfTurn) {
      items.push(h("div", { class: "bubble assistant", "data-turn": turn }, answer,
        h("div", { class: "meta" }, (r.agent ? "agent " + r.agent : "reply") + " · turn ", eventLink(turn))));
    }
  });
  return h("div", { class: "card", id: "thread" }, h("h2", {}, "Thread"),
    items.length ? h("div", { class: "chat" }, items) : h("p", { class: "muted" }, "No events kept for this session."));
}
