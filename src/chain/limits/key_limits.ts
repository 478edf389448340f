/**
 * Tyk's RateLimitAndQuotaCheck step: the key's rate limit, then its quota, checked in one store call. The
 * counters are Tyk's: `rate-limit-[<scope>-]<key id>` and `quota-[<scope>-]<key id>`, where the key id is the
 * stored key name, hashed when `hash_keys` is on. The fixed-window limiter also names the key's
 * `last_updated`, as Tyk's default limiter names its buckets, so updating a key starts a fresh window.
 */
import type { RateLimiterKind, Store } from "../../store/store.ts";
import type { RequestCtx, Step } from "../context.ts";
import { GatewayError, MESSAGES } from "../errors.ts";
import { effectiveLimit } from "./effective_limit.ts";
import { limitHeaderValues } from "./limit_headers.ts";

/** Options of the key limits step, resolved once per API load. */
export interface KeyLimitsOptions {
  store: Pick<Store, "checkLimits">;
  /** The id counters are named after: the stored key name, hashed when `hash_keys` is on. */
  keyId: (keyName: string) => string;
  /** The limiter tyk.conf selects (`enable_redis_rolling_limiter` → `"sliding"`). */
  limiter: RateLimiterKind;
  /** The API's `disable_rate_limit`. @default false */
  disableRateLimit?: boolean;
  /** The API's `disable_quota`. @default false */
  disableQuota?: boolean;
  /** `rate_limit_response_headers`: `"rate_limits"` puts the limiter's figures on responses. @default "quotas" */
  headers?: "quotas" | "rate_limits";
  now?: () => number;
  /** Raised when the rate limit blocks a request, with the key as presented to the counters. */
  onRateLimited?: (ctx: RequestCtx, key: string) => void;
  /** Raised when the quota blocks a request. */
  onQuotaExceeded?: (ctx: RequestCtx, key: string) => void;
  /** Logs a store failure (the request gets a 503). */
  onStoreError?: (ctx: RequestCtx, err: unknown) => void;
}

/**
 * Builds an API's key rate-limit and quota step; `null` when the API disables both.
 * @example
 * const step = createKeyLimits({ store, keyId: (k) => keyStore.storageId(k), limiter: "sliding" });
 */
export function createKeyLimits(options: KeyLimitsOptions): Step | null {
  const disableRate = options.disableRateLimit ?? false;
  const disableQuota = options.disableQuota ?? false;
  if (disableRate && disableQuota) return null;
  const { store, keyId, limiter } = options;
  const now = options.now ?? Date.now;
  const rateHeaders = options.headers === "rate_limits";
  const quotaExceeded = new GatewayError(403, MESSAGES.quotaExceeded);
  const rateLimited = new GatewayError(429, MESSAGES.rateLimited);
  const unavailable = new GatewayError(503, MESSAGES.keyStoreUnavailable);

  return async function keyLimits(ctx) {
    const session = ctx.session;
    if (ctx.ignored || session === null) return undefined;
    const { limit, scope } = effectiveLimit(session, ctx.apiId);
    const checkRate = !disableRate && limit.rate > 0 && limit.per > 0;
    const checkQuota = !disableQuota && limit.quota_max > 0;
    if (!checkRate && !checkQuota) return undefined;

    const id = (scope ? `${scope}-` : "") + keyId(ctx.sessionKey);
    const rateKey = `rate-limit-${id}`;
    const at = now();
    let result;
    try {
      result = await store.checkLimits(
        checkRate
          ? {
            kind: limiter,
            key: limiter === "window" ? `${rateKey}:${session.last_updated}` : rateKey,
            rate: limit.rate,
            per: limit.per,
            reset: rateHeaders,
          }
          : null,
        checkQuota ? { key: `quota-${id}`, renewalSeconds: limit.quota_renewal_rate } : null,
        at,
      );
    } catch (err) {
      options.onStoreError?.(ctx, err);
      return unavailable;
    }

    if (result.rate !== null && rateHeaders) {
      ctx.limitHeaders = limitHeaderValues(limit.rate, result.rate.remaining, at + result.rate.resetMs);
    }
    if (result.rate?.blocked) {
      options.onRateLimited?.(ctx, ctx.sessionKey);
      return rateHeaders
        ? new GatewayError(429, MESSAGES.rateLimited, { headers: headerObject(ctx) })
        : rateLimited;
    }
    const quota = result.quota;
    if (quota === null) return undefined;
    // The session is the request's own copy, for the headers; it is not written back per request: the counter
    // is what /tyk/keys reads (docs/differences.md, "quota in the session record").
    limit.quota_remaining = Math.max(limit.quota_max - quota.used, 0);
    if (quota.resetMs >= 0) limit.quota_renews = Math.floor((at + quota.resetMs) / 1000);
    if (limit !== session) {
      session.quota_remaining = limit.quota_remaining;
      session.quota_renews = limit.quota_renews;
    }
    if (quota.used > limit.quota_max) {
      options.onQuotaExceeded?.(ctx, ctx.sessionKey);
      return rateHeaders
        ? new GatewayError(403, MESSAGES.quotaExceeded, { headers: headerObject(ctx) })
        : quotaExceeded;
    }
    return undefined;
  };
}

function headerObject(ctx: RequestCtx): Record<string, string> | undefined {
  const values = ctx.limitHeaders;
  if (!values) return undefined;
  return {
    "X-RateLimit-Limit": values[0],
    "X-RateLimit-Remaining": values[1],
    "X-RateLimit-Reset": values[2],
  };
}
