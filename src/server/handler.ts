/**
 * The data-plane request handler: routes a request to its API, runs the API's chain, renders Tyk errors
 * and writes a modified session back. The routing table is read once per request from the current
 * ApiSet, so a reload swapping it never affects a request already routed.
 */
import { BODY_TOO_LARGE, type BodyBudget } from "../chain/body_budget.ts";
import type { ApiHandle } from "../chain/compile_api.ts";
import type { RequestCtx } from "../chain/context.ts";
import { type ErrorRenderer, GatewayError } from "../chain/errors.ts";
import { setLimitHeaders } from "../chain/limits/limit_headers.ts";
import { runChain } from "../chain/run_chain.ts";
import type { KeyStore } from "../keys/key_store.ts";
import { requestEnded, requestStarted } from "./load_gauge.ts";
import type { Logger } from "../log.ts";
import type { ApiSet } from "./api_set.ts";
import { checkBodySize, countedBody } from "./body_limit.ts";

/** What the handler needs from the gateway. */
export interface HandlerOptions {
  current: () => ApiSet;
  keyStore: KeyStore;
  renderError: ErrorRenderer;
  log: Logger;
  /** `https` when this listener terminates TLS. */
  scheme: "http" | "https";
  /** global_session_lifetime, used when the API sets none. */
  globalSessionLifetime: number;
  /** `rate_limit_response_headers`: what `X-RateLimit-*` show. @default "quotas" */
  limitHeaders?: "quotas" | "rate_limits";
  /** Bounds the bodies steps buffer. */
  bodyBudget: BodyBudget;
  /** http_server_options.max_request_body_size in bytes; 0 means none. */
  maxRequestBodySize: number;
}

/** Splits a request URL into path and raw query without building a URL object. */
export function splitTarget(url: string): { path: string; query: string } {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  const target = start < 0 ? "/" : url.slice(start);
  const q = target.indexOf("?");
  return q < 0 ? { path: target, query: "" } : { path: target.slice(0, q), query: target.slice(q + 1) };
}

const NOT_FOUND_HEADERS = { "content-type": "text/plain; charset=utf-8" };

/**
 * A copy the chain may change. `new Headers(headers)` gives the same list but walks it with an iterator:
 * 5.8 µs for five headers, against 1.4 µs this way.
 */
function copyHeaders(headers: Headers): Headers {
  const copy = new Headers();
  headers.forEach((value, name) => copy.append(name, value));
  return copy;
}

/** Builds the handler for API traffic; a path no API listens on gets Tyk's plain 404. */
export function createApiHandler(options: HandlerOptions) {
  const { log, renderError } = options;
  const limitHeaders = options.limitHeaders ?? "quotas";
  const { bodyBudget, maxRequestBodySize } = options;
  return async function handleApiRequest(request: Request, clientIp: string): Promise<Response> {
    let body: ReadableStream<Uint8Array> | null = request.body;
    const verdict = checkBodySize(request, body, maxRequestBodySize);
    if (verdict === "too large") return renderError(BODY_TOO_LARGE, null);
    const { path, query } = splitTarget(request.url);
    const match = options.current().router.match(path);
    if (!match) return new Response("Not Found", { status: 404, headers: NOT_FOUND_HEADERS });
    const api = match.api;
    let overLimit = false;
    if (verdict === "count") body = countedBody(body!, maxRequestBodySize, () => overLimit = true);
    const ctx: RequestCtx = {
      request,
      apiId: api.apiId,
      orgId: api.orgId,
      listenPath: match.prefix,
      clientIp,
      scheme: options.scheme,
      requestURI: query ? `${path}?${query}` : path,
      method: request.method,
      path,
      query,
      headers: copyHeaders(request.headers),
      body,
      bodyBudget,
      bodyHold: { bytes: 0 },
      session: null,
      sessionKey: "",
      sessionModified: false,
      ignored: false,
      versionName: "",
    };
    let out;
    api.enter();
    requestStarted();
    try {
      out = await runChain(api.chain, ctx);
      if (ctx.sessionModified && ctx.session) await writeBack(ctx, api);
    } finally {
      if (ctx.bodyHold.bytes > 0) bodyBudget.release(ctx.bodyHold);
      requestEnded();
      api.leave();
    }
    // whatever failed when the body was cut (the upstream request, a step reading it), the cause is its size
    if (overLimit) out = BODY_TOO_LARGE;
    if (out instanceof GatewayError) {
      // Steps that answer 5xx on purpose log their own line; a cause means something failed underneath
      if (out.status >= 500 && out.cause) {
        log.error(out.message, { api_id: api.apiId, path, cause: String(out.cause) });
      }
      return renderError(out, request.headers.get("content-type"));
    }
    setLimitHeaders(out, ctx, limitHeaders);
    return out;
  };

  async function writeBack(ctx: RequestCtx, api: ApiHandle): Promise<void> {
    const ttl = api.sessionLifetime || options.globalSessionLifetime;
    try {
      const written = await options.keyStore.writeBack(ctx.sessionKey, ctx.session!, ttl);
      if (!written && api.createsSessions && ctx.sessionKey) {
        await options.keyStore.set(ctx.sessionKey, ctx.session!, ttl);
      }
    } catch (err) {
      log.error("Cannot write session back: key store unavailable", {
        api_id: api.apiId,
        error: String(err),
      });
    }
  }
}
