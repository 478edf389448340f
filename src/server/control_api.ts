/**
 * The Gateway REST API (Tyk's `gateway/api.go`): `/hello`, `/ready` and everything under `/tyk/`, which
 * requires `X-Tyk-Authorization` equal to `secret`. Unlike Tyk, an empty secret refuses every admin call
 * (see docs/differences.md).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { Hono } from "hono";
import { type GatewayConfig, jsvmTimeoutMs } from "../config/gateway_config.ts";
import type { PolicyMap } from "../config/policy.ts";
import type { EventBus } from "../events/bus.ts";
import type { KeyStore } from "../keys/key_store.ts";
import type { Logger } from "../log.ts";
import type { Store } from "../store/store.ts";
import { VERSION } from "../version.ts";
import { apisRoutes } from "./control/apis.ts";
import { pluginsRoutes } from "./control/plugins.ts";
import { keysRoutes } from "./control/keys.ts";
import { policiesRoutes } from "./control/policies.ts";
import { apiError, json, methodNotSupported } from "./control/respond.ts";
import type { ApiSet } from "./api_set.ts";

/** What the control API needs from the gateway. */
export interface ControlApiOptions {
  config: GatewayConfig;
  store: Store;
  keyStore: KeyStore;
  current: () => ApiSet;
  /** The gateway-level event handlers of tyk.conf (token events). */
  events: EventBus;
  /** The policies loaded by the last reload. */
  policies: () => PolicyMap;
  /** Queues a reload; resolves when it finished. */
  reload: () => Promise<unknown>;
  /** Publishes a group reload to every gateway sharing the store. */
  groupReload: () => Promise<void>;
  /** False until the first reload succeeded, and again while shutting down. */
  isReady: () => { ready: boolean; reason?: string };
  log: Logger;
}

function digest(value: string): Uint8Array {
  return createHash("sha256").update(value).digest();
}

/** Compares a presented secret with the configured one in constant time. */
export function secretMatches(presented: string | null, secret: string): boolean {
  if (!secret || presented === null) return false;
  return timingSafeEqual(digest(presented), digest(secret));
}

async function health(options: ControlApiOptions, description: string) {
  const ok = await options.store.ping().catch(() => false);
  return {
    status: ok ? "pass" : "fail",
    version: VERSION,
    description,
    details: {
      [options.store.kind === "redis" ? "redis" : "store"]: {
        status: ok ? "pass" : "fail",
        componentType: "datastore",
        time: new Date().toISOString(),
      },
    },
  };
}

/**
 * Builds the control API as a hono app.
 * @example
 * const app = createControlApi({ config, store, keyStore, current, reload, groupReload, isReady, log });
 * const res = await app.request("/tyk/keys", { headers: { "X-Tyk-Authorization": config.secret } });
 */
export function createControlApi(options: ControlApiOptions): Hono {
  const { config, log } = options;
  const app = new Hono({ strict: false });
  if (!config.secret) log.error("secret is empty in tyk.conf: every /tyk/ call will be refused (403)");

  app.get(`/${config.health_check_endpoint_name}`, async () => json(await health(options, "Tyk GW")));
  app.all(`/${config.health_check_endpoint_name}`, () => apiError(405, "Method Not Allowed"));
  app.get(`/${config.readiness_check_endpoint_name}`, async () => {
    const state = options.isReady();
    if (!state.ready) return apiError(503, state.reason ?? "A successful API reload did not happen");
    const body = await health(options, "Tyk GW Ready");
    if (body.status !== "pass") {
      return apiError(503, `${options.store.kind === "redis" ? "Redis" : "Store"} connection not available`);
    }
    return json(body);
  });

  app.use("/tyk/*", async (c, next) => {
    if (!secretMatches(c.req.header("x-tyk-authorization") ?? null, config.secret)) {
      log.warn("Attempted administrative access with invalid or missing key!", { path: c.req.path });
      return apiError(403, "Attempted administrative access with invalid or missing key!");
    }
    await next();
  });
  app.onError((err, c) => {
    log.error("Control API call failed", { path: c.req.path, error: String(err) });
    return apiError(500, "Internal Server Error");
  });

  app.get("/tyk/reload", async (c) => {
    const done = options.reload();
    if (c.req.query("block") === "true") await done;
    return json({ status: "ok", message: "" });
  });
  app.all("/tyk/reload", methodNotSupported);
  app.get("/tyk/reload/group", async () => {
    await options.groupReload();
    return json({ status: "ok", message: "" });
  });
  app.all("/tyk/reload/group", methodNotSupported);
  app.route("/tyk/keys", keysRoutes(options));
  app.route("/tyk/policies", policiesRoutes({ settings: config.policies, current: options.policies }));
  app.route("/tyk/apis", apisRoutes({ appPath: config.app_path, current: options.current }));
  app.route("/tyk/plugins", pluginsRoutes({ timeoutMs: jsvmTimeoutMs(config) }));
  app.notFound(() =>
    new Response("404 page not found\n", {
      status: 404,
      headers: { "content-type": "text/plain; charset=utf-8" },
    })
  );
  return app;
}
