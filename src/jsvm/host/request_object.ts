/**
 * The request object a JS request hook receives (jsvm spec §3.1) and how its returned edits are applied
 * to the request (§4.2): body, URL, headers, query parameters, then the ReturnOverrides decision (§4.3).
 */
import { currentUrl, type RequestCtx } from "../../chain/context.ts";
import type { LogFields, Logger } from "../../log.ts";
import { decodeBase64, encodeBase64 } from "./_base64.ts";
import { canonicalHeaderKey, fromHeaderValue, toHeaderValue } from "./go_http.ts";
import type { MiniRequest } from "./go_json.ts";
import { encodeQuery, parseGoUrl, parseQuery } from "./go_url.ts";

export { canonicalHeaderKey } from "./go_http.ts";
export { encodeQuery, parseQuery } from "./go_url.ts";

/** What the chain does after a hook's edits were applied. */
export type HookDecision =
  /** Go on with the next step. */
  | { kind: "continue" }
  /**
   * `Request.URL` did not parse: Tyk returns at that point, so headers, params, session write-back,
   * ReturnOverrides and the auth session are skipped (the body edit stays) and the request goes on.
   */
  | { kind: "ignored" }
  /** ReturnOverrides code ≥ 400 without OverrideError: Tyk's error template with this message. */
  | { kind: "error"; status: number; message: string; headers: Record<string, string> }
  /** Any other non-zero ReturnOverrides code: this raw body, these headers, no upstream call. */
  | { kind: "respond"; status: number; body: string; headers: Record<string, string> };

/** How edits are applied for one API. */
export interface ApplyOptions {
  /** `ignore_canonical_mime_header_key`: SetHeaders and forced-response names kept as written. */
  ignoreCanonical: boolean;
  log: Logger;
  /** Fields for log lines about this hook (api_id, hook, plugin). */
  logFields: LogFields;
}

const CONTINUE: HookDecision = { kind: "continue" };
const IGNORED: HookDecision = { kind: "ignored" };
const EMPTY = new Uint8Array(0);
const ENCODER = new TextEncoder();
const LOSSY = new TextDecoder();
const STRICT = new TextDecoder("utf-8", { fatal: true });
/** Names Go's client derives itself and never sends from the header map. */
const DERIVED_HEADERS = new Set(["host", "content-length", "transfer-encoding", "trailer"]);
/** The base64 sent for a body, kept while the bytes live, to compare with what comes back. */
const SENT_BODY = new WeakMap<Uint8Array, string>();

function bodyBase64(body: Uint8Array): string {
  let text = SENT_BODY.get(body);
  if (text === undefined) {
    text = encodeBase64(body);
    SENT_BODY.set(body, text);
  }
  return text;
}

/** Serialises `name → values` as a JSON object with names in Go's (byte-wise) sorted order. */
function sortedObject(entries: Iterable<[string, string[]]>): string {
  const list = [...entries].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return `{${list.map(([name, values]) => `${JSON.stringify(name)}:${JSON.stringify(values)}`).join(",")}}`;
}

function requestHost(ctx: RequestCtx): string {
  return ctx.request.headers.get("host") ?? new URL(ctx.request.url).host;
}

function headersObject(ctx: RequestCtx): string {
  const headers = new Map<string, string[]>();
  for (const [name, value] of ctx.headers) {
    if (name === "host") continue;
    const key = canonicalHeaderKey(name);
    const values = headers.get(key);
    if (values) values.push(fromHeaderValue(value));
    else headers.set(key, [fromHeaderValue(value)]);
  }
  const host = requestHost(ctx);
  if (host) headers.set("Host", [host]);
  return sortedObject(headers);
}

/**
 * Builds the JSON text of the `request` argument (jsvm spec §3.1): keys in Tyk's order, canonical sorted
 * headers with array values plus `Host`, the body as standard base64, the query as `Params`.
 * @param body the buffered request body (see `readBody()`)
 */
export function buildRequestObject(ctx: RequestCtx, body: Uint8Array): string {
  return `{"Headers":${headersObject(ctx)},"SetHeaders":{},"DeleteHeaders":[],"Body":"${bodyBase64(body)}",` +
    `"URL":${JSON.stringify(currentUrl(ctx))},"Params":${sortedObject(parseQuery(ctx.query))},` +
    `"AddParams":{},"ExtendedParams":{},"DeleteParams":[],"ReturnOverrides":{"ResponseCode":0,` +
    `"ResponseError":"","ResponseBody":"","ResponseHeaders":null,"OverrideError":false},"IgnoreBody":false,` +
    `"Method":${JSON.stringify(ctx.method)},"RequestURI":${JSON.stringify(ctx.requestURI)},` +
    `"Scheme":"${ctx.scheme}"}`;
}

function isUtf8(bytes: Uint8Array): boolean {
  try {
    STRICT.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/**
 * The body to send on: the original bytes when the plugin handed back what it was given (for a body that
 * is not valid UTF-8 the sandbox saw U+FFFD in place of bad bytes; DECISIONS #9), else the new bytes.
 */
function resultBody(returned: string | null, original: Uint8Array): Uint8Array {
  if (returned === bodyBase64(original)) return original;
  if (returned === null || returned === "") return EMPTY;
  if (!isUtf8(original) && returned === encodeBase64(ENCODER.encode(LOSSY.decode(original)))) return original;
  return decodeBase64(returned) ?? EMPTY;
}

function applyBody(ctx: RequestCtx, request: MiniRequest, original: Uint8Array): void {
  const body = request.IgnoreBody ? original : resultBody(request.Body, original);
  ctx.body = body;
  if (body.length !== original.length && ctx.headers.has("content-length")) {
    ctx.headers.set("content-length", String(body.length));
  }
}

/** Applies `Request.URL`; false when it does not parse as Go's `url.Parse` would. */
function applyUrl(ctx: RequestCtx, url: string, options: ApplyOptions): boolean {
  if (url === currentUrl(ctx)) return true;
  const parsed = parseGoUrl(url);
  if (parsed === null) {
    options.log.warn(
      `Ignoring the rest of the JS hook result: Request.URL ${JSON.stringify(url)} is not a valid URL`,
      options.logFields,
    );
    return false;
  }
  if (parsed.scheme === "tyk") {
    options.log.warn(
      `tyk:// loops are not supported yet: Request.URL ${JSON.stringify(url)} is sent upstream as a path`,
      options.logFields,
    );
  }
  ctx.path = parsed.path;
  ctx.query = parsed.query;
  return true;
}

function applyHeaders(ctx: RequestCtx, request: MiniRequest, options: ApplyOptions): void {
  for (const name of request.DeleteHeaders ?? []) {
    if (name.toLowerCase() === "host") continue; // Go keeps the host outside the header map
    try {
      ctx.headers.delete(name);
    } catch {
      // not a valid header name, so no such header: Go's Del is a no-op too
    }
  }
  for (const [name, value] of Object.entries(request.SetHeaders ?? {})) {
    if (DERIVED_HEADERS.has(name.toLowerCase())) continue;
    try {
      ctx.headers.set(options.ignoreCanonical ? name : canonicalHeaderKey(name), toHeaderValue(value));
    } catch {
      options.log.warn(
        `Cannot set header ${JSON.stringify(name)} from a JS hook: invalid name or value`,
        options.logFields,
      );
    }
  }
}

function sameValues(a: Map<string, string[]>, b: Map<string, string[]>): boolean {
  if (a.size !== b.size) return false;
  for (const [key, values] of a) {
    const other = b.get(key);
    if (other === undefined || other.length !== values.length || other.some((v, i) => v !== values[i])) {
      return false;
    }
  }
  return true;
}

function isEmpty(map: Record<string, unknown> | null): boolean {
  for (const _ in map) return false;
  return true;
}

/** Tyk's `ReconstructParams`: delete, set, append; re-encode only when the values changed. */
function applyParams(ctx: RequestCtx, request: MiniRequest): void {
  const { DeleteParams, AddParams, ExtendedParams } = request;
  if (!DeleteParams?.length && isEmpty(AddParams) && isEmpty(ExtendedParams)) return;
  const current = parseQuery(ctx.query);
  const updated = new Map([...current].map(([key, values]) => [key, [...values]]));
  for (const key of DeleteParams ?? []) updated.delete(key);
  for (const [key, value] of Object.entries(AddParams ?? {})) updated.set(key, [value]);
  for (const [key, values] of Object.entries(ExtendedParams ?? {})) {
    for (const value of values ?? []) {
      const list = updated.get(key);
      if (list) list.push(value);
      else updated.set(key, [value]);
    }
  }
  if (!sameValues(current, updated)) ctx.query = encodeQuery(updated);
}

function responseHeaders(headers: Record<string, string> | null, canonical: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    out[canonical ? canonicalHeaderKey(name) : name] = value;
  }
  return out;
}

/**
 * Applies a decoded hook result to the request in Tyk's order (jsvm spec §4.2 steps 1–4) and returns what
 * ReturnOverrides asks for (§4.3). Session write-back and the auth session are the caller's (steps 5, 7).
 * @param originalBody the bytes the request object was built from
 */
export function applyRequestResult(
  ctx: RequestCtx,
  request: MiniRequest,
  originalBody: Uint8Array,
  options: ApplyOptions,
): HookDecision {
  applyBody(ctx, request, originalBody);
  if (!applyUrl(ctx, request.URL, options)) return IGNORED;
  applyHeaders(ctx, request, options);
  applyParams(ctx, request);
  const overrides = request.ReturnOverrides;
  const body = overrides.ResponseError !== "" ? overrides.ResponseError : overrides.ResponseBody;
  const status = overrides.ResponseCode;
  if (status >= 400 && !overrides.OverrideError) {
    return {
      kind: "error",
      status,
      message: body,
      headers: responseHeaders(overrides.ResponseHeaders, true),
    };
  }
  if (status !== 0) {
    return {
      kind: "respond",
      status,
      body,
      headers: responseHeaders(overrides.ResponseHeaders, !options.ignoreCanonical),
    };
  }
  return CONTINUE;
}
