/**
 * The last step: sends the request upstream and streams the answer back (gateway-core spec §7.2–7.4).
 * Bodies are streamed both ways; nothing is buffered unless an earlier step already buffered it.
 */
import type { RequestCtx } from "./context.ts";
import { GatewayError, MESSAGES } from "./errors.ts";
import { sendUpstream, type UpstreamAgents, UpstreamError } from "./upstream_client.ts";
import { type UpstreamTarget, upstreamUrl } from "./upstream_url.ts";

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

const HOP_BY_HOP = [
  "connection",
  "proxy-connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
];

/** Removes hop-by-hop headers, including those named by `Connection`. */
export function removeHopByHop(headers: Headers): void {
  const connection = headers.get("connection");
  if (connection) { for (const name of connection.split(",")) headers.delete(name.trim()); }
  const te = headers.get("te");
  for (const name of HOP_BY_HOP) headers.delete(name);
  if (te && /(^|,)\s*trailers\s*(,|$)/i.test(te)) headers.set("te", "trailers");
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
 * const proxy = createProxy({ target: createUpstreamTarget("http://127.0.0.1:9000/", {...}) }, agents);
 * const res = await proxy(ctx);
 */
export function createProxy(options: ProxyOptions, agents: UpstreamAgents) {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const { target, stripAuth } = options;
  return async function proxy(ctx: RequestCtx): Promise<Response | GatewayError> {
    if (stripAuth) stripAuthData(ctx, stripAuth);
    const headers = ctx.headers;
    const clientHost = headers.get("host");
    removeHopByHop(headers);
    const forwarded = headers.get("x-forwarded-for");
    headers.set("x-forwarded-for", forwarded ? `${forwarded}, ${ctx.clientIp}` : ctx.clientIp);
    if (options.preserveHost && clientHost) headers.set("host", clientHost);
    else headers.delete("host");
    try {
      const upstream = await sendUpstream(upstreamUrl(target, ctx.listenPath, ctx.path, ctx.query), {
        method: ctx.method,
        headers,
        body: ctx.body,
        timeoutMs,
        signal: ctx.request.signal,
        insecure: options.insecure,
      }, agents);
      removeHopByHop(upstream.headers);
      return upstream;
    } catch (err) {
      return upstreamFailure(err);
    }
  };
}
