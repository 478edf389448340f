/**
 * Test helpers shared by the chain's tests: a RequestCtx built the way the gateway's handler builds one,
 * a valid API definition, and the services every API of a gateway shares.
 */
import { join } from "node:path";
import { captureLog } from "../capture_log.ts";
import { BodyBudget } from "./body_budget.ts";
import { type ApiDefinition, parseApiDefinition } from "../config/api_definition.ts";
import { parseGatewayConfig } from "../config/gateway_config.ts";
import { KeyStore } from "../keys/key_store.ts";
import { openEmbeddedStore } from "../store/embedded.ts";
import { UpstreamClient } from "../upstream/client.ts";
import type { GatewayServices } from "./compile_api.ts";
import type { RequestCtx } from "./context.ts";

/** The gateway's default limits. */
const TEST_BODY_BUDGET = new BodyBudget({ maxBodySize: 64 * 1024 * 1024, maxTotalSize: 128 * 1024 * 1024 });

/** A request context for `url` (absolute), as the handler would build it for API `api-1`. */
export function testCtx(url: string, init: RequestInit = {}, body?: Uint8Array): RequestCtx {
  const request = new Request(url, init);
  const target = url.slice(url.indexOf("/", url.indexOf("//") + 2));
  const q = target.indexOf("?");
  const path = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? "" : target.slice(q + 1);
  return {
    request,
    apiId: "api-1",
    orgId: "org-1",
    listenPath: "/",
    clientIp: "127.0.0.1",
    scheme: "http",
    requestURI: target,
    method: request.method,
    path,
    query,
    headers: new Headers(request.headers),
    body: body ?? request.body,
    bodyBudget: TEST_BODY_BUDGET,
    bodyHold: { bytes: 0 },
    session: null,
    sessionKey: "",
    sessionModified: false,
    ignored: false,
    versionName: "",
  };
}

/** A valid API definition for tests, with `extra` fields on top. */
export function testDefinition(extra: Record<string, unknown>): ApiDefinition {
  return parseApiDefinition({
    api_id: "api-1",
    org_id: "org-1",
    proxy: { listen_path: "/a/", target_url: "http://127.0.0.1:1" },
    ...extra,
  }, "test");
}

const servicesRoot = await Deno.makeTempDir({ prefix: "portcullis-services-" });
globalThis.addEventListener("unload", () => Deno.removeSync(servicesRoot, { recursive: true }));
let servicesOpened = 0;

/**
 * Runs `fn` with what `compileApi` needs, on an embedded store and a folder of its own (tyk.conf's folder,
 * with `apps/` and `middleware/` under it), then closes the store and the upstream client.
 * @param conf tyk.conf fields on top of `app_path: "apps"` and `middleware_path: "middleware"`
 */
export async function withServices(
  fn: (services: GatewayServices & { log: ReturnType<typeof captureLog> }, dir: string) => Promise<void>,
  conf: Record<string, unknown> = {},
): Promise<void> {
  const dir = `${servicesRoot}/${++servicesOpened}`;
  await Deno.mkdir(join(dir, "apps"), { recursive: true });
  await using store = await openEmbeddedStore(join(dir, "data"));
  const upstream = new UpstreamClient();
  const log = captureLog();
  const config = parseGatewayConfig(
    { app_path: "apps", middleware_path: "middleware", ...conf },
    join(dir, "tyk.conf"),
  );
  try {
    await fn({
      config,
      baseDir: dir,
      keyStore: new KeyStore(store, {
        hashKeys: config.hash_keys,
        hashKeyFunction: config.hash_key_function,
      }),
      upstream,
      store,
      eventContext: { store, upstream, log, templatePath: join(dir, "templates"), baseDir: dir },
      log,
    }, dir);
  } finally {
    upstream.close();
  }
}
