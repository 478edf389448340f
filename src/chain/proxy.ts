/**
 * The last step: sends the request upstream and streams the answer back, as Tyk's reverse proxy does: the
 * client's headers minus hop-by-hop ones, X-Forwarded-For extended with the client's address, the target's
 * Host unless `preserve_host_header`, and the upstream's status, headers and bytes passed through untouched.
 * Bodies stream both ways; nothing is buffered unless an earlier step already buffered it.
 */
import type { RequestCtx } from "./context.ts";
import { GatewayError, MESSAGES } from "./errors.ts";
import { endToEndLines, requestHopByHop } from "./hop_by_hop.ts";
import { upstreamRequestTarget, type UpstreamTarget } from "./upstream_url.ts";
import { DeadlineQueue } from "../upstream/deadlines.ts";
import { parseOrigin, type UpstreamClient, UpstreamError } from "../upstream/client.ts";
import { VERSION } from "../version.ts";

/** What Tyk sends upstream for a client that sent no User-Agent. */
const USER_AGENT = `Tyk/${VERSION}`;

/** Options of an API's proxy, resolved at load time. */
export interface ProxyOptions {
  target: UpstreamTarget;
  /** proxy.preserve_host_header: send the client's Host upstream. @default false */
  preserveHost?: boolean;
  /** proxy_default_timeout in ms: how long to wait for the response headers. @default 30000 */
  timeoutMs?: number;
  /** strip_auth_data: header, query and cookie names holding the key, removed before proxying. */
  stripAuth?: { header?: string; param?: string; cookie?: string };
  /** proxy_ssl_insecure_skip_verify or proxy.transport.ssl_insecure_skip_verify. @default false */
  insecure?: boolean;
}

function stripAuthData(ctx: RequestCtx, strip: NonNullable<ProxyOptions["stripAuth"]>): void {
  if (strip.header) ctx.headers.delete(strip.header);
  if (strip.param && ctx.query) {
    const params = new URLSearchParams(ctx.query);
    if (params.has(strip.param)) {
      params.delete(strip.param);
      ctx.query = params.toString();
    }
  }
  if (strip.cookie) {
    const cookie = ctx.headers.get("cookie");
    if (cookie) {
      const kept = cookie.split(";").filter((part) => part.split("=")[0].trim() !== strip.cookie);
      if (kept.length) ctx.headers.set("cookie", kept.join(";").trim());
      else ctx.headers.delete("cookie");
    }
  }
}

function upstreamFailure(err: unknown): GatewayError {
  if (err instanceof UpstreamError) {
    if (err.kind === "timeout") return new GatewayError(504, MESSAGES.upstreamTimeout, { cause: err });
    if (err.kind === "dns") return new GatewayError(500, MESSAGES.upstreamLookupFailed, { cause: err });
    if (err.kind === "aborted") return new GatewayError(499, MESSAGES.clientClosed, { cause: err });
  }
  return new GatewayError(500, MESSAGES.proxyFailed, { cause: err });
}

/**
 * Builds an API's proxy step: it always answers, with the upstream response or a Tyk error.
 * @example
 * const target = createUpstreamTarget("http://127.0.0.1:9000/", { stripListenPath: true, disableStripSlash: false });
 * const proxy = createProxy({ target }, new UpstreamClient());
 * const res = await proxy(ctx);
 */
export function createProxy(options: ProxyOptions, client: UpstreamClient) {
  const { target, stripAuth } = options;
  const origin = parseOrigin(target.origin);
  // one timer serves every request of this API: their deadlines all have the same length
  const deadline = new DeadlineQueue(options.timeoutMs ?? 30_000);
  const preserveHost = options.preserveHost === true;
  const insecure = options.insecure === true;
  return async function proxy(ctx: RequestCtx): Promise<Response | GatewayError> {
    if (stripAuth) stripAuthData(ctx, stripAuth);
    const headers = ctx.headers;
    const skipHeaders = requestHopByHop(headers);
    // Go's reverse proxy adds its User-Agent only when the request has none at all (an empty one stays)
    if (!headers.has("user-agent")) headers.set("user-agent", USER_AGENT);
    const forwarded = headers.get("x-forwarded-for");
    headers.set("x-forwarded-for", forwarded ? `${forwarded}, ${ctx.clientIp}` : ctx.clientIp);
    try {
      return await client.respond(origin, {
        method: ctx.method,
        target: upstreamRequestTarget(target, ctx.listenPath, ctx.path, ctx.query),
        headers,
        headerCase: ctx.headerCase,
        skipHeaders,
        body: ctx.body,
        host: preserveHost ? headers.get("host") ?? undefined : undefined,
        deadline,
        signal: () => ctx.request.signal,
        insecure,
      }, endToEndLines);
    } catch (err) {
      return upstreamFailure(err);
    }
  };
}
