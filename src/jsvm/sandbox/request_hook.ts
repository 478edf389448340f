/**
 * Both ends of a request hook inside the sandbox: Tyk's request object built from the gateway's raw
 * `HookRequest`, and the `HookEdits` the returned object asks for, decoded like Go and compared with
 * what was sent (Tyk's `gateway/mw_js_plugin.go`). Doing this here keeps the gateway's thread to a short
 * list of edits; a plugin that tampers with built-ins meanwhile can only spoil its own result, which it
 * controls anyway.
 */
import { decodeBase64, encodeBase64 } from "../go/base64.ts";
import { canonicalHeaderKey, fromHeaderValue, toHeaderValue } from "../go/http.ts";
import { decodeRequestHookResult, type MiniRequest } from "./hook_result.ts";
import { encodeQuery, parseGoUrl, parseQuery } from "../go/url.ts";
import type { HookDecision, HookEdits, HookRequest } from "../protocol.ts";

/** Names Go's client derives itself and never sends from the header map. */
const DERIVED_HEADERS = new Set(["host", "content-length", "transfer-encoding", "trailer"]);
const CONTINUE: HookDecision = { kind: "continue" };
const IGNORED: HookDecision = { kind: "ignored" };
const ENCODER = new TextEncoder();
const LOSSY = new TextDecoder();
const STRICT = new TextDecoder("utf-8", { fatal: true });

/** Sets an own property as `JSON.parse` would, a key named `__proto__` included. */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") {
    Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  } else target[key] = value;
}

/** `name → values` as an object whose keys are in Go's (byte-wise) sorted order. */
export function sortedRecord(entries: Iterable<[string, string[]]>): Record<string, string[]> {
  const list = [...entries].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const out: Record<string, string[]> = {};
  for (const [name, values] of list) setOwn(out, name, values);
  return out;
}

/**
 * Go's `http.Header` as JSON: canonical names, sorted, one value per line.
 * @param raw name, value, name, value… (lower-case names), as a `HookRequest` carries them
 * @param host the `Host` entry Tyk adds for request hooks; none when absent
 */
export function headersRecord(raw: string[], host?: string): Record<string, string[]> {
  const headers = new Map<string, string[]>();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i] === "host") continue;
    const key = canonicalHeaderKey(raw[i]);
    const value = fromHeaderValue(raw[i + 1]);
    const values = headers.get(key);
    if (values) values.push(value);
    else headers.set(key, [value]);
  }
  if (host) headers.set("Host", [host]);
  return sortedRecord(headers);
}

/**
 * The `request` argument, as `JSON.parse` would give it from Tyk's text: keys in Tyk's
 * order, canonical sorted headers with array values plus `Host`, the body as standard base64, the query
 * as `Params`. Built directly: parsing its text back costs as much as building it.
 */
export function requestObject(request: HookRequest): Record<string, unknown> {
  return {
    Headers: headersRecord(request.headers, request.host),
    SetHeaders: {},
    DeleteHeaders: [],
    Body: request.body,
    URL: request.url,
    Params: sortedRecord(parseQuery(request.query)),
    AddParams: {},
    ExtendedParams: {},
    DeleteParams: [],
    ReturnOverrides: {
      ResponseCode: 0,
      ResponseError: "",
      ResponseBody: "",
      ResponseHeaders: null,
      OverrideError: false,
    },
    IgnoreBody: false,
    Method: request.method,
    RequestURI: request.requestURI,
    Scheme: request.scheme,
  };
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
 * The body to send on, `null` for the original bytes: kept when the plugin handed back what it was given
 * (for a body that is not valid UTF-8 the plugin saw U+FFFD in place of bad bytes; see docs/differences.md).
 */
function resultBody(result: MiniRequest, sent: string): string | null {
  const returned = result.Body;
  if (result.IgnoreBody || returned === sent) return null;
  if (returned === null || returned === "") return "";
  const original = decodeBase64(sent);
  if (original && !isUtf8(original) && returned === encodeBase64(ENCODER.encode(LOSSY.decode(original)))) {
    return null;
  }
  return returned;
}

/** Tyk's `ReconstructParams`: delete, set, append; the new query only when the values changed. */
function reconstructParams(query: string, result: MiniRequest): string | null {
  const { DeleteParams, AddParams, ExtendedParams } = result;
  if (!DeleteParams?.length && isEmpty(AddParams) && isEmpty(ExtendedParams)) return null;
  const current = parseQuery(query);
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
  return sameValues(current, updated) ? null : encodeQuery(updated);
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

function responseHeaders(headers: Record<string, string> | null, canonical: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    out[canonical ? canonicalHeaderKey(name) : name] = value;
  }
  return out;
}

/** What ReturnOverrides asks for: go on, answer with an error, or answer with the plugin's response. */
function decide(result: MiniRequest, ignoreCanonical: boolean): HookDecision {
  const overrides = result.ReturnOverrides;
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
      headers: responseHeaders(overrides.ResponseHeaders, !ignoreCanonical),
    };
  }
  return CONTINUE;
}

/**
 * Decodes what `DoProcessRequest` returned and lists the edits it makes to `sent`, in Tyk's order: body,
 * URL (an unparsable one stops there), headers (deletes first), params, then the ReturnOverrides
 * decision. Writing session meta data back and installing an auth_check's session are the gateway's.
 * @param stringified `returned` is known to be `JSON.stringify` output (the bootstrap's own)
 * @throws GoJsonError when Go's decoder would refuse the result
 */
export function requestHookEdits(returned: string, sent: HookRequest, stringified = false): HookEdits {
  const result = decodeRequestHookResult(returned, stringified);
  const request = result.Request;
  const edits: HookEdits = {
    body: resultBody(request, sent.body),
    path: null,
    query: null,
    deleteHeaders: [],
    setHeaders: [],
    decision: CONTINUE,
    warnings: [],
    sessionMeta: result.SessionMeta,
    session: result.Session === null ? null : JSON.stringify(result.Session),
    authValue: result.AuthValue,
  };
  let query = sent.query;
  if (request.URL !== sent.url) {
    const parsed = parseGoUrl(request.URL);
    if (parsed === null) {
      edits.warnings.push(
        `Ignoring the rest of the JS hook result: Request.URL ${
          JSON.stringify(request.URL)
        } is not a valid URL`,
      );
      edits.decision = IGNORED;
      return edits;
    }
    if (parsed.scheme === "tyk") {
      edits.warnings.push(
        `tyk:// loops are not supported yet: Request.URL ${
          JSON.stringify(request.URL)
        } is sent upstream as a path`,
      );
    }
    edits.path = parsed.path;
    edits.query = query = parsed.query;
  }
  for (const name of request.DeleteHeaders ?? []) {
    if (name.toLowerCase() !== "host") edits.deleteHeaders.push(name); // Go keeps the host outside the map
  }
  for (const [name, value] of Object.entries(request.SetHeaders ?? {})) {
    if (DERIVED_HEADERS.has(name.toLowerCase())) continue;
    edits.setHeaders.push([sent.ignoreCanonical ? name : canonicalHeaderKey(name), toHeaderValue(value)]);
  }
  edits.query = reconstructParams(query, request) ?? edits.query;
  edits.decision = decide(request, sent.ignoreCanonical);
  return edits;
}
