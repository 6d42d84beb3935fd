// The web console in a real browser (Debian's chromium driven by
// playwright-core): starts the real `clawhooks serve` on 127.0.0.1 with a
// handler posting to a recording channel stand-in and an outgoing
// subscription to a sink that fails, then signs in, watches a hook appear
// without a reload, opens it, replays a dead letter, ends a session, follows
// a burst folded into one agent turn (its reply, its thread), and
// checks the refusals without the cookie and with a forged CSRF token.
// Screenshots go to $OUT (target/console-test/).
//
// Run by scripts/console-test.sh, which installs playwright-core and
// chromium and sets CLAWHOOKS_BIN, NODE_DIR and OUT.

import { createRequire } from "node:module";
import { spawn, execFileSync } from "node:child_process";
import http from "node:http";
import net from "node:net";
import fs from "node:fs";
import path from "node:path";
import assert from "node:assert/strict";

const BIN = process.env.CLAWHOOKS_BIN;
const OUT = process.env.OUT;
const require = createRequire(path.join(process.env.NODE_DIR, "package.json"));
const { chromium } = require("playwright-core");
// The operators' secret (sign-in, admin routes) and the senders' hook secret.
const SECRET = "console-test-admin-" + Math.random().toString(36).slice(2);
const HOOK_SECRET = "console-test-hook-" + Math.random().toString(36).slice(2);

fs.rmSync(OUT, { recursive: true, force: true });
fs.mkdirSync(OUT, { recursive: true });

// ---- stand-ins ------------------------------------------------------------

/// An HTTP server on 127.0.0.1 recording every request; `reply()` decides
/// the status, `answer(n)` (if given) the JSON answer to the n-th request.
async function recorder(reply, answer) {
  const got = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      got.push({ method: req.method, url: req.url, body });
      const status = reply();
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(answer ? answer(got.length) : { ok: status < 300, n: got.length }));
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { got, server, url: (p) => `http://127.0.0.1:${server.address().port}${p}` };
}

async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, "127.0.0.1", r));
  const port = s.address().port;
  await new Promise((r) => s.close(r));
  return port;
}

async function eventually(what, fn, ms = 15000) {
  const until = Date.now() + ms;
  let last;
  while (Date.now() < until) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) { last = e; }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`timed out waiting for ${what}${last ? ": " + last.message : ""}`);
}

const channel = await recorder(() => 200);
let sinkUp = false;
const sink = await recorder(() => (sinkUp ? 200 : 500));
// An OpenAI-compatible agent stand-in: its n-th answer is "Answer n".
const model = await recorder(() => 200, (n) => ({ choices: [{ message: { role: "assistant", content: `Answer ${n}` } }] }));
const port = await freePort();
const base = `http://127.0.0.1:${port}`;

const config = {
  webhooks: {
    incoming: { secret: HOOK_SECRET, host: "127.0.0.1", port },
    admin: { secret: SECRET },
    network: { allowPrivate: true },
    channels: { team: { type: "slack", webhookUrl: channel.url("/services/T0/B0/console") } },
    handlers: [
      { id: "alerts", action: "send_message", target: { channel: "team" }, template: "🔔 {{alert.name}}: {{alert.message}}" },
      { id: "room", action: "send_message", target: { channel: "team" }, sessionMode: "persistent", sessionKey: "team-room", template: "{{text}}" },
      { id: "ops", action: "run_agent", agentId: "bot", sessionMode: "persistent", sessionKey: "ops", template: "{{text}}",
        coalesce: { window: "2s" } },
    ],
    agents: { bot: { type: "openai", url: model.url("/v1"), model: "m" } },
    outgoing: [
      { id: "audit-log", url: sink.url("/audit"), events: ["message_received"], retry: { maxAttempts: 1 } },
    ],
  },
};
const configPath = path.join(OUT, "clawhooks.json");
fs.writeFileSync(configPath, JSON.stringify(config, null, 2));

const server = spawn(BIN, ["serve", "--config", configPath, "--memory", "--port", String(port)], {
  stdio: ["ignore", "pipe", "pipe"],
  env: { ...process.env, NO_COLOR: "1" },
});
const log = fs.createWriteStream(path.join(OUT, "server.log"));
server.stdout.pipe(log);
server.stderr.pipe(log);
let browser;

async function hook(id, body) {
  const r = await fetch(`${base}/webhook/${id}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-webhook-secret": HOOK_SECRET },
    body: JSON.stringify(body),
  });
  const text = await r.text();
  assert.equal(r.status, 202, text);
  return JSON.parse(text);
}

async function admin(p) {
  const r = await fetch(base + p, { headers: { authorization: `Bearer ${SECRET}` } });
  assert.equal(r.status, 200, p);
  return r.json();
}

const checks = [];
function passed(what) {
  checks.push(what);
  console.log("ok -", what);
}

try {
  await eventually("the server to answer", async () => (await fetch(base + "/health")).ok);

  // Without the cookie (and without the secret) admin routes refuse.
  for (const [method, p] of [["GET", "/events"], ["GET", "/console/stream"], ["POST", "/dlq/replay"], ["GET", "/config"]]) {
    const r = await fetch(base + p, { method });
    assert.equal(r.status, 401, `${method} ${p} without a cookie`);
    const hooky = await fetch(base + p, { method, headers: { "x-webhook-secret": HOOK_SECRET, authorization: `Bearer ${HOOK_SECRET}` } });
    assert.equal(hooky.status, 401, `${method} ${p} with the hook secret`);
  }
  passed("admin routes refuse without the cookie or the admin secret, and with the hook secret");

  // A fresh profile per run (playwright passes it as --user-data-dir).
  const context = await chromium.launchPersistentContext(fs.mkdtempSync(path.join(OUT, "profile-")), {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width: 1366, height: 860 },
  });
  browser = context;
  const page = await context.newPage();
  const consoleErrors = [];
  page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  page.on("dialog", (d) => d.accept());
  const shot = (name) => page.screenshot({ path: path.join(OUT, name + ".png"), fullPage: true });

  // Sign in: a wrong secret first, then the right one.
  await page.goto(base + "/console");
  await page.waitForSelector("#login-form", { state: "visible" });
  await shot("01-login");
  await page.fill("#secret", HOOK_SECRET);
  await page.click("#login-form button[type=submit]");
  await page.waitForSelector("#login-error:not(.hidden)");
  await page.fill("#secret", SECRET);
  await page.click("#login-form button[type=submit]");
  await page.waitForSelector("#app:not(.hidden)");
  await page.waitForSelector("#live.on");
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === "clawhooks_console");
  assert.ok(session, "a session cookie");
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, "Strict");
  assert.ok(!session.value.includes(SECRET), "the cookie is not the secret");
  passed("sign-in sets an HttpOnly, SameSite=Strict session cookie that is not the secret");

  // A hook posted with curl appears without a reload.
  const marker = await page.evaluate(() => (window.__marker = Math.random()));
  const posted = JSON.parse(execFileSync("curl", ["-sS", "-X", "POST", `${base}/webhook/alerts`,
    "-H", `X-Webhook-Secret: ${HOOK_SECRET}`, "-H", "Content-Type: application/json",
    "-d", JSON.stringify({ alert: { name: "DiskFull", message: "/var at 97%" } })], { encoding: "utf8" }));
  const row = `tr[data-id="${posted.eventId}"]`;
  await page.waitForSelector(row, { timeout: 10000 });
  await page.waitForSelector(`${row} .pill.done`, { timeout: 10000 });
  assert.equal(await page.evaluate(() => window.__marker), marker, "the page did not reload");
  passed("a hook posted with curl appears, then turns done, without a reload");

  // More traffic for the screenshots: a persistent session and a few hooks.
  await hook("room", { text: "Deploy of api v2.14 started" });
  await hook("room", { text: "Deploy finished in 3m12s" });
  await hook("alerts", { alert: { name: "HighLatency", message: "p99 at 1.8s on checkout" } });
  await page.waitForFunction(() => document.querySelectorAll("#event-rows tr[data-id]").length >= 4);
  await page.waitForTimeout(800);
  await shot("02-events-live");

  // Open it: the action's result (the channel's answer) and what was received.
  await page.click(row);
  await page.waitForSelector("#result-json");
  const result = await page.textContent("#result");
  assert.ok(channel.got.some((r) => r.body.includes("DiskFull")), "the channel got the message");
  assert.match(result, /team|slack|message/i, "the result names what the action did: " + result);
  assert.match(await page.textContent("#rendered"), /DiskFull/, "the rendered template is shown");
  const received = await page.textContent("main");
  assert.ok(received.includes("/var at 97%"), "the received body is shown");
  assert.ok(!received.includes(HOOK_SECRET) && !received.includes(SECRET), "the secret header is not shown");
  await shot("03-event");
  passed("an event shows the rendered template, the action's result and the received body, without the secret");

  // The subscription's sink failed: a dead letter; make the sink work and replay it.
  await eventually("a dead letter", async () => (await admin("/dlq")).count >= 1, 30000);
  await page.goto(base + "/console#/dead-letters");
  await page.waitForSelector("button.replay-one");
  await shot("04-dead-letters");
  sinkUp = true;
  const dead = (await admin("/dlq")).deadLetters.find((d) => d.eventId === posted.eventId) || (await admin("/dlq")).deadLetters[0];
  await page.click(`button.replay-one`);
  await page.waitForSelector("#toast:not(.hidden)");
  assert.match(await page.textContent("#toast"), /Replayed [1-9]/);
  await eventually("the replayed delivery to succeed", async () => {
    const d = await admin("/events/" + encodeURIComponent(dead.inboundEventId) + "/deliveries");
    return d.emitted.some((e) => e.attempts.some((a) => a.outcome === "delivered"));
  }, 30000);
  assert.ok(dead.inboundEventId, "a dead letter names its hook's event");
  await page.goto(base + "/console#/event/" + encodeURIComponent(dead.inboundEventId));
  await page.waitForSelector(".pill.delivered");
  await shot("05-replayed-delivered");
  passed("a dead letter replayed from the console is delivered");

  // The subscriptions page: state, breaker and backlog; Pause, then Resume.
  await page.goto(base + "/console#/subscriptions");
  const subRow = 'tr[data-subscription="audit-log"]';
  await page.waitForSelector(`${subRow} button.pause`);
  assert.match(await page.textContent(`${subRow} .state`), /active/);
  assert.match(await page.textContent(`${subRow} .breaker`), /^(closed|open|half_open)/);
  assert.match(await page.textContent(`${subRow} .backlog`), /^\d+$/);
  await shot("05b-subscriptions");
  await page.click(`${subRow} button.pause`);
  await page.waitForSelector(`${subRow} button.resume`);
  assert.equal((await admin("/subscriptions")).subscriptions[0].state, "paused");
  assert.match(await page.textContent(`${subRow} .state`), /paused/);
  await page.click(`${subRow} button.resume`);
  await page.waitForSelector(`${subRow} button.pause`);
  assert.equal((await admin("/subscriptions")).subscriptions[0].state, "active");
  passed("the subscriptions page shows state, breaker and backlog, and pauses and resumes");

  // The playground: edit the alerts handler's template and see the preview
  // of a hook it really received change, beside the unchanged current one.
  await page.goto(base + "/console#/playground/alerts");
  const latency = 'tr[data-event] .edited .rendered';
  await page.waitForSelector(latency);
  assert.equal(await page.textContent(latency), "🔔 HighLatency: p99 at 1.8s on checkout");
  await page.fill("#playground-template", "{{alert.name}} is {{alert.message}}!");
  await page.waitForFunction((sel) => document.querySelector(sel)?.textContent === "HighLatency is p99 at 1.8s on checkout!", latency);
  const playRow = await page.$eval(latency, (el) => el.closest("tr").textContent);
  assert.match(playRow, /🔔 HighLatency: p99 at 1\.8s on checkout/, "the current config's preview stays");
  await shot("05c-playground");
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
  await page.click("#playground-copy");
  const copied = JSON.parse(await eventually("the edited handler on the clipboard", async () =>
    page.evaluate(() => navigator.clipboard.readText())));
  assert.equal(copied.id, "alerts");
  assert.equal(copied.template, "{{alert.name}} is {{alert.message}}!");
  assert.deepEqual(copied.target, { channel: "team" });
  await page.fill("#playground-filter", '{"body": {"alert": {"$bogus": 1}}}');
  await page.waitForSelector("#playground-error");
  assert.match(await page.textContent("#playground-error"), /webhooks\.handlers\[0\]\.filter/);
  passed("the playground previews an edited template on a real past hook, copies the edited handler as JSON, and names a bad filter");

  // End the persistent session.
  await page.goto(base + "/console#/session/team-room");
  await page.waitForSelector("#end-session:not([disabled])");
  await shot("06-session");
  await page.click("#end-session");
  await page.waitForSelector("#end-session[disabled]");
  const ended = await admin("/sessions/team-room");
  assert.ok(ended.session.ended, "the session is ended");
  passed("a session ended from the console is ended");

  // A burst on a coalescing session: one turn answers three hooks. A folded
  // hook's page shows the reply its caller got and links the turn; the
  // session shows the hooks in order, then the turn's reply.
  const burst = [];
  for (const text of ["disk 91% on db-1", "disk 95% on db-1", "disk 99% on db-1"]) burst.push((await hook("ops", { text })).eventId);
  const settled = await eventually("the burst to be answered", async () => {
    const all = await Promise.all(burst.map((id) => admin("/events/" + encodeURIComponent(id))));
    return all.every((a) => a.event.status === "done") && all;
  }, 30000);
  const turn = settled[0].event.result.turn;
  assert.ok(settled.every((a) => a.event.result.turn === turn && a.reply === settled[0].reply), "one turn answers all three");
  assert.equal(model.got.length, 1, "one agent run for the burst");
  await page.goto(base + "/console#/event/" + encodeURIComponent(burst[2]));
  await page.waitForSelector("#reply-text");
  assert.equal(await page.textContent("#reply-text"), settled[2].reply, "the reply that went back to the caller");
  assert.match(await page.textContent("#turn"), /Folded into the coalesced turn/);
  await shot("06b-folded-event");
  await page.click("#turn a");
  await page.waitForFunction((id) => location.hash === "#/event/" + encodeURIComponent(id), turn);
  await page.waitForSelector("#turn");
  assert.match(await page.textContent("#turn"), /This turn answered 3 events/);
  passed("a coalesced hook's page shows the reply its caller got and links the turn that answered it");
  await page.goto(base + "/console#/session/ops");
  await page.waitForSelector("#thread .bubble.assistant");
  const thread = await page.$$eval("#thread .bubble", (els) => els.map((e) => e.className + ": " + e.firstChild.textContent));
  assert.deepEqual(thread, ["bubble user: disk 91% on db-1", "bubble user: disk 95% on db-1", "bubble user: disk 99% on db-1",
    "bubble assistant: " + settled[0].reply], "the conversation as its thread");
  await shot("06c-thread");
  passed("a session's page shows its conversation as a thread: the hooks in order, then the turn's reply");

  // A forged or missing CSRF token is refused, with the cookie.
  const forged = await page.evaluate(async () => {
    const a = await fetch("/dlq/replay", { method: "POST", headers: { "X-CSRF-Token": "forged" }, body: "{}" });
    const b = await fetch("/dlq/replay", { method: "POST", body: "{}" });
    const c = await fetch("/events");
    return [a.status, b.status, c.status];
  });
  assert.deepEqual(forged, [403, 403, 200], "forged CSRF, no CSRF, a read");
  passed("with the cookie, a forged or missing CSRF token is refused (403), reads work");

  // The other pages, for the screenshots (and that they load).
  for (const [hash, name, sel] of [["#/sessions", "07-sessions", "main table, main .empty"], ["#/deliveries", "08-deliveries", "main table"],
    ["#/config", "09-config", "main table"], ["#/send", "10-send", "#hook-body"]]) {
    await page.goto(base + "/console" + hash);
    await page.waitForSelector(sel);
    await shot(name);
  }
  await page.fill("#hook-id", "alerts");
  await page.fill("#hook-secret", HOOK_SECRET);
  await page.fill("#hook-body", JSON.stringify({ alert: { name: "FromConsole", message: "sent by the form" } }));
  await page.click("#send-result ~ form button[type=submit], form.card button[type=submit]");
  await page.waitForSelector("#send-result .pill");
  assert.match(await page.textContent("#send-result"), /202/);
  await shot("11-sent");
  passed("the send-a-test-hook form posts a hook");

  // A phone.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(base + "/console#/events");
  await page.waitForSelector("#event-rows tr[data-id]");
  await shot("12-phone-events");
  await page.goto(base + "/console#/event/" + encodeURIComponent(posted.eventId));
  await page.waitForSelector("#result-json");
  await shot("13-phone-event");
  await page.setViewportSize({ width: 1366, height: 860 });

  // Sign out: the cookie is gone and the API refuses again.
  await page.goto(base + "/console#/events");
  await page.waitForSelector("#logout");
  await page.click("#logout");
  await page.waitForSelector("#login-form", { state: "visible" });
  const after = await page.evaluate(async () => (await fetch("/events")).status);
  assert.equal(after, 401);
  passed("sign-out clears the session");

  // A strict CSP on every console response.
  const r = await fetch(base + "/console");
  assert.match(r.headers.get("content-security-policy") || "", /default-src 'none'/);
  assert.deepEqual(consoleErrors.filter((e) => !/Failed to load resource/.test(e)), [], "no errors in the page");
  passed("pages are served under a strict Content-Security-Policy with no page errors");

  console.log(`\n${checks.length} checks passed; screenshots in ${OUT}`);
} finally {
  if (browser) await browser.close();
  server.kill("SIGTERM");
  channel.server.close();
  sink.server.close();
  model.server.close();
}
