/**
 * Tyk's RateLimitForAPI step: the API-wide `global_rate_limit`, shared by every caller (keyless APIs too),
 * counted under `rate-limit-<HashKey("apilimiter-" + org_id + api_id)>`. A store that fails lets requests
 * through, logged once per outage: keyless APIs keep serving while Redis is down.
 */
import type { RateLimitCheck, RateLimiterKind, Store } from "../../store/store.ts";
import type { RequestCtx, Step } from "../context.ts";
import { GatewayError, MESSAGES } from "../errors.ts";

/** Options of the API rate-limit step. */
export interface ApiRateLimitOptions {
  store: Pick<Store, "checkLimits">;
  limiter: RateLimiterKind;
  /** Tyk's `HashKey()` with the gateway's `hash_keys`. */
  hashKey: (name: string) => string;
  now?: () => number;
  /** Raised when the limit blocks a request, with Tyk's key `apilimiter-<org><api>`. */
  onRateLimited?: (ctx: RequestCtx, key: string) => void;
  /** Called once when the store starts failing (requests pass meanwhile). */
  onStoreError?: (ctx: RequestCtx, err: unknown) => void;
}

/** What the step reads of the API definition. */
export interface ApiLimitDefinition {
  api_id: string;
  org_id: string;
  disable_rate_limit: boolean;
  global_rate_limit: { rate: number; per: number; disabled: boolean };
}

/**
 * Builds an API's global rate-limit step; `null` when the API has none (disabled, rate or per 0, or
 * `disable_rate_limit`).
 * @example
 * const step = createApiRateLimit(def, { store, limiter: "sliding", hashKey: (s) => hashKey(s, true) });
 */
export function createApiRateLimit(def: ApiLimitDefinition, options: ApiRateLimitOptions): Step | null {
  const { rate, per, disabled } = def.global_rate_limit;
  if (disabled || def.disable_rate_limit || !(rate > 0) || !(per > 0)) return null;
  const now = options.now ?? Date.now;
  const eventKey = `apilimiter-${def.org_id}${def.api_id}`;
  const check: RateLimitCheck = {
    kind: options.limiter,
    key: `rate-limit-${options.hashKey(eventKey)}`,
    rate,
    per,
    reset: false,
  };
  if (options.limiter === "window") check.key += ":";
  const blocked = new GatewayError(429, MESSAGES.apiRateLimited);
  let failing = false;
  return async function apiRateLimit(ctx) {
    let result;
    try {
      result = await options.store.checkLimits(check, null, now());
    } catch (err) {
      if (!failing) options.onStoreError?.(ctx, err);
      failing = true;
      return undefined;
    }
    failing = false;
    if (!result.rate?.blocked) return undefined;
    options.onRateLimited?.(ctx, eventKey);
    return blocked;
  };
}
