-- POST a small JSON hook with the secret; a fresh Idempotency-Key is not
-- sent, so every request is a new hook that is queued durably.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Webhook-Secret"] = "bench-secret"
wrk.body = '{"action":"opened","repository":{"name":"clawhooks"},"pull_request":{"title":"Bench"}}'

-- Fixed pacing per connection for the half-load run (ms between requests).
local pace = tonumber(os.getenv("WRK_DELAY_MS") or "0")
if pace > 0 then
  function delay() return pace end
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT rps=%.0f p50_ms=%.3f p99_ms=%.3f errors=%d requests=%d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.requests))
end
