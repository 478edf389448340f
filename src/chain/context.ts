/**
 * What one request carries through an API's chain, and the shape of a chain step.
 * Steps mutate the context (path, query, headers, body, session) and the proxy sends what is left.
 */
import type { BodyBudget, BodyHold } from "./body_budget.ts";
import type { GatewayError } from "./errors.ts";
import type { Session } from "../keys/session.ts";

/** `X-RateLimit-Limit`, `-Remaining` and `-Reset` (unix seconds), as header values. */
export type LimitHeaderValues = readonly [limit: string, remaining: string, reset: string];

/**
 * A response a step made itself that still goes through the API's response chain (JS response hooks, the
 * cache writer), as Tyk's forced responses of post hooks and virtual endpoints do; a plain `Response` from
 * a step (a pre hook's, a cache hit) is sent as it is.
 */
export class Forced {
  constructor(readonly response: Response) {}
}

/** What a step returns: a response or an error ends the chain, `undefined` continues. */
export type StepResult = Response | Forced | GatewayError | undefined;

/** One middleware step, built once per API load by a factory. */
export type Step = (ctx: RequestCtx) => StepResult | Promise<StepResult>;

/** One step of the response chain: returns the response to send on (the same or a new one), or an error. */
export type ResponseStep = (
  ctx: RequestCtx,
  response: Response,
) => Response | GatewayError | Promise<Response | GatewayError>;

/** The state of one request inside the gateway. */
export interface RequestCtx {
  /** The client's request as Deno.serve gave it. */
  readonly request: Request;
  /** The API this request was routed to. */
  readonly apiId: string;
  /** The API's organisation. */
  readonly orgId: string;
  /** The API's listen path, normalised (leading `/`). */
  readonly listenPath: string;
  /** The client's IP (host part of the TCP peer). */
  readonly clientIp: string;
  /** `"https"` when this listener terminated TLS. */
  readonly scheme: "http" | "https";
  /** The request target exactly as the client sent it (path and query); never rewritten. */
  readonly requestURI: string;
  /** The HTTP method sent upstream. */
  method: string;
  /** The current gateway-side path, still starting with the listen path; rewrites change it. */
  path: string;
  /** The current raw query string, without `?`. */
  query: string;
  /** The request headers as they will be sent upstream (hop-by-hop ones are removed by the proxy). */
  headers: Headers;
  /**
   * Header names a JS hook set, as it wrote them (lower-case name → name). Upstream, every other name goes
   * out in Go's canonical form; these go out as written (`ignore_canonical_mime_header_key`).
   */
  headerCase?: Map<string, string>;
  /** The body: the client's stream until a step buffers it with {@link readBody}. */
  body: ReadableStream<Uint8Array> | Uint8Array | null;
  /** Bounds what {@link readBody} may hold; the handler releases {@link bodyHold} when the request ends. */
  readonly bodyBudget: BodyBudget;
  /** What this request holds of the body budget. */
  readonly bodyHold: BodyHold;
  /** The key's session once auth succeeded; `null` on keyless APIs. */
  session: Session | null;
  /** The stored key name of the session (what `apikey-` is followed by, before hashing). */
  sessionKey: string;
  /** Set by steps that changed the session; the chain writes it back once, at the end. */
  sessionModified: boolean;
  /** True when an `ignored` endpoint matched: auth, expiry, access and key limits are skipped. */
  ignored: boolean;
  /** The API version this request resolved to. */
  versionName: string;
  /** The rate limiter's figures for `X-RateLimit-*`, when `rate_limit_response_headers` asks for them. */
  limitHeaders?: LimitHeaderValues;
}

const NO_BODY = new Uint8Array(0);

/**
 * Buffers the request body (once) so a step can read it; later steps and the proxy reuse the bytes.
 * @throws GatewayError 413 or 503 when the body budget refuses it (see {@link BodyBudget.buffer})
 */
export async function readBody(ctx: RequestCtx): Promise<Uint8Array> {
  // ctx.body stays null: an empty buffer would make the proxy send a body the client never sent
  if (ctx.body === null) return NO_BODY;
  if (ctx.body instanceof Uint8Array) return ctx.body;
  const declared = ctx.request.headers.get("content-length");
  return (ctx.body = await ctx.bodyBudget.buffer(
    ctx.body,
    declared === null ? null : Number(declared),
    ctx.bodyHold,
  ));
}

/** The current gateway-side URL (path and query), as Go prints `r.URL` for origin-form requests. */
export function currentUrl(ctx: RequestCtx): string {
  return ctx.query ? `${ctx.path}?${ctx.query}` : ctx.path;
}
