/**
 * Test helpers shared by the chain's tests: a RequestCtx built the way the gateway's handler builds one,
 * and a valid API definition.
 */
import { BodyBudget } from "./body_budget.ts";
import type { RequestCtx } from "./context.ts";
import { type ApiDefinition, parseApiDefinition } from "../config/api_definition.ts";

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
