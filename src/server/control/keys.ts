/**
 * `/tyk/keys`: create, read, update, delete and list key sessions.
 */
import { Hono } from "hono";
import type { GatewayConfig } from "../../config/gateway_config.ts";
import type { EventBus } from "../../events/bus.ts";
import { EVENTS } from "../../events/event.ts";
import type { KeyStore } from "../../keys/key_store.ts";
import { showLiveQuota } from "../../keys/live_quota.ts";
import { parseSession, type Session } from "../../keys/session.ts";
import { generateToken, newKeyId } from "../../keys/token.ts";
import { hashKey } from "../../keys/hash.ts";
import { applyPolicies } from "../../policies/apply_policies.ts";
import type { PolicyMap } from "../../config/policy.ts";
import type { Store } from "../../store/store.ts";
import type { ApiSet } from "../api_set.ts";
import { apiError, json, methodNotSupported, modified } from "./respond.ts";

/** What the keys routes need. */
export interface KeysRouteOptions {
  config: GatewayConfig;
  keyStore: KeyStore;
  /** Where quota counters live, for the live `quota_remaining`. */
  store: Pick<Store, "getMany" | "ttl">;
  /** The gateway-level event handlers (token events). @default none */
  events?: EventBus;
  /** The policies loaded now. @default none */
  policies?: () => PolicyMap;
  current: () => ApiSet;
  now?: () => number;
}

/** Builds the `/tyk/keys` routes (mounted under `/tyk/keys`). */
export function keysRoutes(options: KeysRouteOptions): Hono {
  const { config, keyStore } = options;
  const now = options.now ?? Date.now;
  const app = new Hono({ strict: false });
  const minLength = Math.max(config.min_token_length || 3, 3);

  /**
   * Redis TTL of a key record: forced global, the key's, the largest of its APIs', global (Tyk's
   * `SessionState.Lifetime` in `user/session.go`).
   */
  function lifetime(session: Session): number {
    if (config.force_global_session_lifetime) return config.global_session_lifetime;
    if (session.session_lifetime > 0) return session.session_lifetime;
    let largest = 0;
    for (const apiId of Object.keys(session.access_rights ?? {})) {
      largest = Math.max(largest, options.current().byId.get(apiId)?.sessionLifetime ?? 0);
    }
    return largest || config.global_session_lifetime;
  }

  /** Stamps a new or reset session the way Tyk's key API does. */
  function resetQuotaFields(session: Session): void {
    const seconds = Math.floor(now() / 1000);
    session.last_updated = String(seconds);
    if (session.quota_renewal_rate > 0) session.quota_renews = seconds + session.quota_renewal_rate;
    session.quota_remaining = session.quota_max;
  }

  /** Merges the key's policies into it before it is stored, as Tyk does; the error answer when they cannot be. */
  function applyKeyPolicies(session: Session): Response | null {
    try {
      applyPolicies(session, options.policies?.() ?? new Map());
      return null;
    } catch (err) {
      return apiError(500, `Failed to create key - ${(err as Error).message}`);
    }
  }

  async function parseBody(request: Request): Promise<Session | undefined> {
    const text = await request.text();
    try {
      return parseSession(text);
    } catch {
      return undefined;
    }
  }

  /** Tyk reads `?hashed` as set when it has any value: the name in the path is then the stored id. */
  function isHashed(query: URLSearchParams): boolean {
    return (query.get("hashed") ?? "") !== "";
  }

  /**
   * The org whose custom-id forms of a name are tried: `?org_id=`, else the org of `?api_id=`'s API, else
   * `fallback` (the session's own org, for updates); `undefined` looks the name up as given.
   */
  function orgFor(query: URLSearchParams, fallback?: string): string | undefined {
    const apiId = query.get("api_id");
    return query.get("org_id") || (apiId ? options.current().byId.get(apiId)?.orgId : undefined) || fallback;
  }

  function keyHashOf(key: string): string | undefined {
    return config.hash_keys ? hashKey(key, true) : undefined;
  }

  /** Raises a token event on the gateway's own handlers (tyk.conf `event_handlers`). */
  function tokenEvent(name: string, message: string, org: string, key: string): void {
    options.events?.fire(name, { Message: message, OriginatingRequest: "", Org: org, Key: key });
  }

  async function store(session: Session, key: string, message: string): Promise<Response> {
    session.date_created = new Date(now()).toISOString();
    resetQuotaFields(session);
    await keyStore.set(key, session, lifetime(session));
    await keyStore.resetQuota(key);
    tokenEvent(EVENTS.tokenCreated, message, session.org_id, key);
    return modified(key, "added", keyHashOf(key));
  }

  /**
   * The three create calls differ only in their error texts (Tyk's) and in where the key id comes from.
   * @param malformed the answer to a body that is not a session
   * @param master the answer to a session without access rights when master keys are not allowed
   */
  async function create(
    request: Request,
    customId: string | null,
    malformed: [number, string],
    master: [number, string],
    message = "Key modified.",
  ): Promise<Response> {
    const session = await parseBody(request);
    if (!session) return apiError(...malformed);
    const refused = applyKeyPolicies(session);
    if (refused) return refused;
    if (Object.keys(session.access_rights ?? {}).length === 0 && !config.allow_master_keys) {
      return apiError(...master);
    }
    const key = generateToken(session.org_id, customId ?? newKeyId(), config.hash_key_function);
    return store(session, key, message);
  }

  const SECURITY = [500, "Failed to create key, ensure security settings are correct."] as [number, string];
  const MALFORMED = [400, "Request malformed"] as [number, string];

  app.post("/create", (c) =>
    create(c.req.raw, null, [500, "Unmarshalling failed"], [
      400,
      "Failed to create key, keys must have at least one Access Rights record set.",
    ], "Key generated."));
  app.all("/create", methodNotSupported);

  app.get("/", async (c) => {
    if (config.hash_keys && !config.enable_hashed_keys_listing) {
      return apiError(404, "Hashed key listing is disabled in config (enable_hashed_keys_listing)");
    }
    const apiId = c.req.query("api_id");
    return json({ keys: await keyStore.list(c.req.query("filter") ?? "", { apiId }) });
  });
  app.post("/", (c) => create(c.req.raw, null, MALFORMED, SECURITY));
  app.all("/", methodNotSupported);

  app.get("/:key", async (c) => {
    const query = new URL(c.req.url).searchParams;
    const hashed = isHashed(query);
    if (hashed && !config.hash_keys) {
      return apiError(400, "Key requested by hash but key hashing is not enabled");
    }
    const found = await keyStore.find(c.req.param("key"), { hashed, orgId: orgFor(query) });
    if (!found) return apiError(404, "Key not found");
    const session = found.session;
    try {
      applyPolicies(session, options.policies?.() ?? new Map());
    } catch {
      // shown as stored; requests with this key are refused and logged where they arrive
    }
    await showLiveQuota(
      options.store,
      found.hashed ? found.keyName : keyStore.storageId(found.keyName),
      session,
    );
    if (session.basic_auth_data) session.basic_auth_data.password = "";
    return json(session);
  });
  app.post("/:key", (c) => {
    const customId = c.req.param("key");
    if (customId.length < minLength) {
      return apiError(
        400,
        `custom key ID length ${customId.length} is less than min_token_length (${minLength}); please use a longer key ID`,
      );
    }
    return create(c.req.raw, customId, MALFORMED, SECURITY);
  });
  app.put("/:key", async (c) => {
    const session = await parseBody(c.req.raw);
    if (!session) return apiError(...MALFORMED);
    const query = new URL(c.req.url).searchParams;
    const orgId = orgFor(query, session.org_id);
    const found = await keyStore.find(c.req.param("key"), { hashed: isHashed(query), orgId });
    if (!found) return apiError(404, "Key is not found");
    const stored = found.session;
    const refused = applyKeyPolicies(session);
    if (refused) return refused;
    session.date_created = stored.date_created;
    if (session.expires > 0 && session.expires * 1000 < now()) session.expires = stored.expires;
    const suppressReset = c.req.query("suppress_reset") === "1";
    if (suppressReset) {
      session.quota_renews = stored.quota_renews;
      session.last_updated = stored.last_updated;
    } else {
      resetQuotaFields(session);
    }
    // written back where it was found: the stored name of a custom id, or the id itself when hashed
    const where = { hashed: found.hashed };
    await keyStore.set(found.keyName, session, lifetime(session), where);
    if (!suppressReset) await keyStore.resetQuota(found.keyName, { ...where, session });
    tokenEvent(EVENTS.tokenUpdated, "Key modified.", session.org_id, found.keyName);
    return modified(found.keyName, "modified");
  });
  app.delete("/:key", async (c) => {
    const query = new URL(c.req.url).searchParams;
    const hashed = isHashed(query);
    const found = await keyStore.find(c.req.param("key"), { hashed, orgId: orgFor(query) });
    if (!found || !(await keyStore.delete(found.keyName, { hashed }))) {
      return apiError(404, "There is no such key found");
    }
    if (c.req.query("api_id") === "-1") return json(null);
    if (!hashed) tokenEvent(EVENTS.tokenDeleted, "Key deleted.", "", found.keyName);
    return modified(found.keyName, "deleted");
  });
  app.all("/:key", methodNotSupported);
  return app;
}
