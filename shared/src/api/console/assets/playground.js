// The playground: pick a handler, edit its filter, transform and template,
// and see what the configured and the edited handler make of the last 20
// hooks it received, side by side (POST /playground, which only computes:
// nothing is kept or sent). "Copy as JSON" copies the edited handler's
// config, to paste into the config file. Loaded after app.js, whose
// helpers (h, api, cell, table, head, pill, short, when, toast, pretty,
// settings, main) it uses; app.js's page table names playgroundPage.

async function playgroundPage(id) {
  const { config } = await api("GET", "/config");
  const handlers = (config.webhooks && config.webhooks.handlers) || [];
  main().append(head("Playground",
    "Edit a handler and see what it makes of the last 20 hooks it received, beside what it makes of them now. Nothing is saved or sent."));
  if (!handlers.length) { main().append(h("div", { class: "empty" }, "No handlers configured.")); return; }
  const handler = handlers.find((x) => x.id === id) || handlers[0];
  const pick = h("select", { id: "playground-handler", onchange: (e) => { location.hash = "#/playground/" + encodeURIComponent(e.target.value); } },
    handlers.map((x) => h("option", { value: x.id, selected: x.id === handler.id }, x.id)));
  const area = (name, value, rows) => h("textarea", { id: "playground-" + name, class: "mono", rows, spellcheck: "false" }, value);
  const t = handler.transform || {};
  const edits = {
    filter: area("filter", handler.filter ? JSON.stringify(handler.filter, null, 2) : "", 6),
    transform: area("transform", t.code || "", 8),
    template: area("template", handler.template || "", 4),
  };
  const results = h("div", { id: "playground-results" });
  const preview = () => playgroundRun(handler, edits, results);
  Object.values(edits).forEach((a) => a.addEventListener("input", () => { clearTimeout(playgroundRun.timer); playgroundRun.timer = setTimeout(preview, 400); }));
  main().append(h("div", { class: "card" },
    h("div", { class: "field" }, h("label", { for: "playground-handler" }, "Handler"), pick),
    h("label", { for: "playground-filter" }, "Filter (JSON; empty for none)"), edits.filter,
    h("label", { for: "playground-transform" }, "Transform (JavaScript defining transform(input); empty for none)"), edits.transform,
    h("label", { for: "playground-template" }, "Template (empty for the body's own words)"), edits.template,
    h("div", { class: "actions" },
      h("button", { class: "primary", id: "playground-preview", onclick: preview }, "Preview"),
      h("button", { id: "playground-copy", onclick: () => playgroundCopy(handler, edits) }, "Copy as JSON"))));
  main().append(results);
  await preview();
}

/// The edits as the keys of a handler; an error names the one that is not JSON.
function playgroundEdits(handler, edits) {
  const text = (a) => a.value.trim();
  let filter = null;
  if (text(edits.filter)) {
    try { filter = JSON.parse(text(edits.filter)); } catch (e) { throw new Error("filter: not JSON: " + e.message); }
  }
  const t = handler.transform || {};
  const transform = text(edits.transform)
    ? { code: edits.transform.value, timeoutMs: t.timeoutMs, maxMemoryMb: t.maxMemoryMb } : null;
  return { filter, transform, template: text(edits.template) ? edits.template.value : null };
}

async function playgroundRun(handler, edits, results) {
  let answer;
  try {
    answer = await api("POST", "/playground", { handler: handler.id, ...playgroundEdits(handler, edits) });
  } catch (e) {
    results.replaceChildren(h("div", { class: "card" }, h("p", { class: "error", id: "playground-error" }, e.message)));
    return;
  }
  const side = (o) => h("div", { class: "playground-side" },
    h("div", {}, o.matched ? pill("filter matches", "done") : pill("filter refuses", "skipped")),
    o.error ? h("p", { class: "error" }, o.error) : null,
    o.transform ? h("pre", { class: "transform" }, pretty(o.transform)) : null,
    h("pre", { class: "rendered wrap" }, o.rendered),
    h("div", { class: "muted mono" }, "session " + o.sessionKey));
  const rows = answer.payloads.map((p) => h("tr", { "data-event": p.eventId },
    cell("Hook", h("a", { href: "#/event/" + encodeURIComponent(p.eventId), class: "mono" }, short(p.eventId)), " ", when(p.receivedAt), p.truncated ? pill("body cut", "warn") : null),
    cell("Now", side(p.current)),
    cell("Edited", h("div", { class: "edited" }, side(p.edited)))));
  results.replaceChildren(h("div", { class: "card flush" },
    table(["Hook", "Now", "Edited"], rows, "This handler has received no hooks yet (or none are kept).")),
    answer.cutShort ? h("p", { class: "muted" }, "Stopped after 5 seconds of scripts: older hooks were not run.") : null);
}

async function playgroundCopy(handler, edits) {
  try {
    // Without the unset keys (app.js's settings), as one would write it.
    await navigator.clipboard.writeText(settings({ ...handler, ...playgroundEdits(handler, edits) }));
    toast("The edited handler's config is on the clipboard.");
  } catch (e) { toast(e.message, true); }
}
