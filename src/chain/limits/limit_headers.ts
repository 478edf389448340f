/**
 * Tyk's `X-RateLimit-*` response headers. By default (`rate_limit_response_headers: "quotas"`) they show the
 * key's quota, from the API's own limit when set: `quota_max`, `quota_remaining`, `quota_renews`; a keyless
 * request (or a JS hook answering before auth) shows `0` for each. With `"rate_limits"` the rate-limit step
 * records the limiter's figures on the request and those are shown instead. Headers the upstream sent under
 * these names are replaced, so each appears once.
 */
import type { LimitHeaderValues, RequestCtx } from "../context.ts";
import { effectiveLimit } from "./effective_limit.ts";

const NAMES = ["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"] as const;
const ZEROS: LimitHeaderValues = ["0", "0", "0"];

/** The header values for a limit, what is left of it and when it resets (epoch ms). */
export function limitHeaderValues(limit: number, remaining: number, resetAtMs: number): LimitHeaderValues {
  return [String(Math.trunc(limit)), String(Math.trunc(remaining)), String(Math.floor(resetAtMs / 1000))];
}

/** The quota figures of the request's key, or zeros without one. */
function quotaValues(ctx: RequestCtx): LimitHeaderValues {
  if (ctx.session === null) return ZEROS;
  const { limit } = effectiveLimit(ctx.session, ctx.apiId);
  return [String(limit.quota_max), String(limit.quota_remaining), String(limit.quota_renews)];
}

/**
 * Sets the headers on a response the chain answered with (not on Tyk error responses).
 * @param mode `rate_limit_response_headers` from tyk.conf
 */
export function setLimitHeaders(response: Response, ctx: RequestCtx, mode: "quotas" | "rate_limits"): void {
  const values = mode === "quotas" ? quotaValues(ctx) : ctx.limitHeaders;
  if (values === undefined) return;
  const headers = response.headers;
  for (let i = 0; i < 3; i++) headers.set(NAMES[i], values[i]);
}
