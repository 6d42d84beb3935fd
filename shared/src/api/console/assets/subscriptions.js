// The subscriptions page: each outgoing subscription's state, circuit
// breaker, backlog, last success and last error, with Pause, Resume and
// Enable buttons (GET /subscriptions, POST /subscriptions/<id>/…). Loaded
// after app.js, whose helpers (h, api, cell, table, head, when, toast,
// route, main) it uses; app.js's page table names subscriptionsPage.

async function subscriptionsPage() {
  const data = await api("GET", "/subscriptions");
  main().append(head("Subscriptions",
    "Outgoing webhooks: paused ones hold their deliveries, an open breaker spares a failing receiver, a disabled one waits for Enable."));
  const rows = data.subscriptions.map((s) => h("tr", { "data-subscription": s.id },
    cell("Subscription", h("span", { class: "mono" }, s.id)),
    cell("State", h("span", { class: "state" }, subscriptionState(s))),
    cell("Breaker", h("span", { class: "breaker" }, s.breaker + (s.consecutiveFailures ? ` (${s.consecutiveFailures} failed)` : ""))),
    cell("Backlog", h("span", { class: "backlog" }, s.backlog === undefined ? "—" : String(s.backlog))),
    cell("Last success", s.lastSuccessAt ? when(s.lastSuccessAt) : "—"),
    cell("Last error", h("span", { class: "wrap" }, s.lastError ? `${s.lastError} (${s.lastErrorAt})` : "—")),
    cell("", subscriptionActions(s))));
  main().append(h("div", { class: "card flush" },
    table(["Subscription", "State", "Breaker", "Backlog", "Last success", "Last error", ""], rows, "No outgoing subscriptions configured.")));
}

function subscriptionState(s) {
  if (!s.enabled) return "off in the config";
  if (s.disabledAt) return "disabled since " + s.disabledAt;
  return s.state;
}

function subscriptionActions(s) {
  const act = (verb, label) => h("button", { class: verb, onclick: () => changeSubscription(s.id, verb) }, label);
  const buttons = [s.state === "paused" ? act("resume", "Resume") : act("pause", "Pause")];
  if (s.disabledAt) buttons.push(act("enable", "Enable"));
  return h("div", { class: "actions" }, buttons);
}

async function changeSubscription(id, verb) {
  try {
    await api("POST", `/subscriptions/${encodeURIComponent(id)}/${verb}`);
    toast(`Subscription ${id}: ${verb === "pause" ? "paused" : verb === "resume" ? "resumed" : "enabled"}.`);
    route();
  } catch (e) { toast(e.message, true); }
}
