/**
 * Tyk's per-API `GET <listen_path>/tyk/rate-limits/`: once the key passed auth, expiry and access checks, it
 * answers with the key's quota and rate on this API instead of proxying. The quota left is read from the
 * counter, since requests do not write it into the session record.
 */
import { showLiveQuota } from "../../keys/live_quota.ts";
import type { Store } from "../../store/store.ts";
import type { Step } from "../context.ts";
import { effectiveLimit } from "./effective_limit.ts";

/** Options of the endpoint step. */
export interface RateLimitsEndpointOptions {
  store: Pick<Store, "getMany" | "ttl">;
  /** The id counters are named after (see `KeyStore.storageId`). */
  keyId: (keyName: string) => string;
}

/**
 * Builds the step that answers `<listen_path>/tyk/rate-limits/` (with or without the last `/`) for a keyed API.
 * @example
 * const step = createRateLimitsEndpoint("/api/", { store, keyId: (k) => keyStore.storageId(k) });
 */
export function createRateLimitsEndpoint(listenPath: string, options: RateLimitsEndpointOptions): Step {
  const base = listenPath.endsWith("/") ? listenPath : `${listenPath}/`;
  const paths = new Set([`${base}tyk/rate-limits/`, `${base}tyk/rate-limits`]);
  return async function rateLimitsEndpoint(ctx) {
    if (ctx.method !== "GET" || !paths.has(ctx.path) || ctx.session === null) return undefined;
    const session = ctx.session;
    await showLiveQuota(options.store, options.keyId(ctx.sessionKey), session);
    const { limit } = effectiveLimit(session, ctx.apiId);
    const body = {
      quota: {
        quota_max: limit.quota_max,
        quota_remaining: limit.quota_remaining,
        quota_renews: limit.quota_renews,
      },
      rate_limit: { requests: limit.rate, per_unit: limit.per },
    };
    return new Response(`${JSON.stringify(body)}\n`, { headers: { "content-type": "application/json" } });
  };
}
