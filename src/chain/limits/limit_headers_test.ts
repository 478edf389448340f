import assert from "node:assert/strict";
import { testCtx } from "../_test_ctx.ts";
import { emptySession, type Session } from "../../keys/session.ts";
import { limitHeaderValues, setLimitHeaders } from "./limit_headers.ts";

function headersOf(response: Response): string[] {
  return [...response.headers].filter(([name]) => name.startsWith("x-ratelimit")).map(([n, v]) =>
    `${n}: ${v}`
  );
}

Deno.test("setLimitHeaders() shows zeros without a session and replaces the upstream's headers", () => {
  const response = new Response("x", { headers: { "X-RateLimit-Limit": "999", "x-ratelimit-reset": "1" } });
  setLimitHeaders(response, testCtx("http://gw/a"), "quotas");
  assert.deepEqual(headersOf(response), [
    "x-ratelimit-limit: 0",
    "x-ratelimit-remaining: 0",
    "x-ratelimit-reset: 0",
  ]);
});

Deno.test("setLimitHeaders() shows the quota, from the API's own limit when it has one", () => {
  const ctx = testCtx("http://gw/a");
  ctx.session = { ...emptySession(), quota_max: 10, quota_remaining: 4, quota_renews: 1234 } as Session;
  const response = new Response("x");
  setLimitHeaders(response, ctx, "quotas");
  assert.deepEqual(headersOf(response), [
    "x-ratelimit-limit: 10",
    "x-ratelimit-remaining: 4",
    "x-ratelimit-reset: 1234",
  ]);
  ctx.session.access_rights = {
    "api-1": { limit: { quota_max: -1, quota_remaining: 7, quota_renews: 99 } },
  } as never;
  const perApi = new Response("x");
  setLimitHeaders(perApi, ctx, "quotas");
  assert.deepEqual(headersOf(perApi), [
    "x-ratelimit-limit: -1",
    "x-ratelimit-remaining: 7",
    "x-ratelimit-reset: 99",
  ]);
});

Deno.test("setLimitHeaders() with rate_limits shows the limiter's figures, or leaves the response alone", () => {
  const ctx = testCtx("http://gw/a");
  const untouched = new Response("x", { headers: { "X-RateLimit-Limit": "5" } });
  setLimitHeaders(untouched, ctx, "rate_limits");
  assert.deepEqual(headersOf(untouched), ["x-ratelimit-limit: 5"]);
  ctx.limitHeaders = limitHeaderValues(3, 2, 1_700_000_000_999);
  const response = new Response("x", { headers: { "X-RateLimit-Limit": "5" } });
  setLimitHeaders(response, ctx, "rate_limits");
  assert.deepEqual(headersOf(response), [
    "x-ratelimit-limit: 3",
    "x-ratelimit-remaining: 2",
    "x-ratelimit-reset: 1700000000",
  ]);
});
