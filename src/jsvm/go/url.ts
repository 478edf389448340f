/**
 * URLs and query strings the way Go's `net/url` reads and writes them, so a JS hook's `URL`, `Params`
 * and `AddParams` edits reach the upstream exactly as they would through Tyk.
 *
 * Runs inside the sandbox, after plugin code (`sandbox/request_hook.ts`), with built-ins used directly, as
 * `sandbox/_primordials.ts` allows for code that only shapes a plugin's own result.
 */

const ENCODER = new TextEncoder();
const DECODER = new TextDecoder();
const HEX = "0123456789ABCDEF";

/** A URL string as Go's `url.Parse` splits it; only the parts a request hook can change. */
export interface GoUrl {
  /** Lower-cased scheme, `""` for a relative reference. */
  scheme: string;
  /** The host as written (validated, not decoded), `""` when there is none. */
  host: string;
  /** The path as Go's `EscapedPath()` prints it; `""` for an empty or opaque URL. */
  path: string;
  /** The raw query after `?`, not validated, exactly as Go keeps `RawQuery`. */
  query: string;
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

function hexValue(c: number): number {
  return c <= 57 ? c - 48 : (c | 0x20) - 87;
}

function isAlnum(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57);
}

/** Go's `shouldEscape(c, encodePath)`. */
function pathNeedsEscape(c: number): boolean {
  if (isAlnum(c)) return false;
  switch (c) {
    case 0x2d: // -
    case 0x5f: // _
    case 0x2e: // .
    case 0x7e: // ~
    case 0x24: // $
    case 0x26: // &
    case 0x2b: // +
    case 0x2c: // ,
    case 0x2f: // /
    case 0x3a: // :
    case 0x3b: // ;
    case 0x3d: // =
    case 0x40: // @
      return false;
  }
  return true;
}

const SUB_DELIMS = new Set([..."!$&'()*+,;=:@[]%"].map((c) => c.charCodeAt(0)));

/** Go's `validEncoded(s, encodePath)`: may the path be sent as the client wrote it? */
function validEncodedPath(bytes: Uint8Array): boolean {
  for (const c of bytes) {
    if (!SUB_DELIMS.has(c) && pathNeedsEscape(c)) return false;
  }
  return true;
}

/** Percent-decodes bytes; `+` becomes a space in query mode. `null` on a bad `%` escape. */
function unescapeBytes(bytes: Uint8Array, query: boolean): Uint8Array | null {
  if (!bytes.includes(0x25) && !(query && bytes.includes(0x2b))) return bytes;
  const out = new Uint8Array(bytes.length);
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (c === 0x25) {
      if (i + 2 >= bytes.length || !isHex(bytes[i + 1]) || !isHex(bytes[i + 2])) return null;
      out[n++] = (hexValue(bytes[i + 1]) << 4) | hexValue(bytes[i + 2]);
      i += 2;
    } else {
      out[n++] = query && c === 0x2b ? 0x20 : c;
    }
  }
  return out.subarray(0, n);
}

function escapeBytes(bytes: Uint8Array, needsEscape: (c: number) => boolean): string {
  let out = "";
  for (const c of bytes) {
    out += needsEscape(c) ? `%${HEX[c >> 4]}${HEX[c & 15]}` : String.fromCharCode(c);
  }
  return out;
}

/** Go's `escape(unescape(p), encodePath)` unless the path is already validly encoded (`EscapedPath()`). */
function escapedPath(raw: string): string | null {
  const bytes = ENCODER.encode(raw);
  const decoded = unescapeBytes(bytes, false);
  if (decoded === null) return null;
  if (raw === "*" || validEncodedPath(bytes)) return raw;
  return escapeBytes(decoded, pathNeedsEscape);
}

/** Splits a leading `scheme:` as Go's `getScheme` does; `null` when the text starts with `:`. */
function splitScheme(text: string): [string, string] | null {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90)) continue;
    if ((c >= 48 && c <= 57) || c === 0x2b || c === 0x2d || c === 0x2e) {
      if (i === 0) return ["", text];
      continue;
    }
    if (c === 0x3a) return i === 0 ? null : [text.slice(0, i), text.slice(i + 1)];
    return ["", text];
  }
  return ["", text];
}

const USERINFO = /^[A-Za-z0-9\-._:~!$&'()*+,;=%@]*$/;
const HOST_CHARS = /^[A-Za-z0-9\-._~!$&'()*+,;=:[\]<>"%\u0080-\uffff]*$/;
const PORT = /^(:\d*)?$/;

/** Go's `parseAuthority` checks: userinfo characters, bracketed IPv6, numeric port, `%` escapes. */
function validAuthority(authority: string): string | null {
  const at = authority.lastIndexOf("@");
  const host = at < 0 ? authority : authority.slice(at + 1);
  if (at >= 0) {
    const userinfo = authority.slice(0, at);
    if (!USERINFO.test(userinfo) || unescapeBytes(ENCODER.encode(userinfo), false) === null) return null;
  }
  if (host.startsWith("[")) {
    const close = host.lastIndexOf("]");
    if (close < 0 || !PORT.test(host.slice(close + 1))) return null;
  } else {
    const colon = host.lastIndexOf(":");
    if (colon >= 0 && !PORT.test(host.slice(colon))) return null;
  }
  if (!HOST_CHARS.test(host)) return null;
  return unescapeBytes(ENCODER.encode(host), false) === null ? null : host;
}

// deno-lint-ignore no-control-regex -- Go rejects URLs with control bytes
const CONTROL = /[\x00-\x1f\x7f]/;

/**
 * Parses a URL string as Go's `url.Parse` does (what Tyk applies to a hook's `Request.URL`).
 * @returns the parts, or `null` where Go returns an error (control characters, a bad `%` escape, a bad
 * port, a colon in the first segment of a relative path).
 */
export function parseGoUrl(text: string): GoUrl | null {
  const hash = text.indexOf("#");
  const raw = hash < 0 ? text : text.slice(0, hash);
  if (CONTROL.test(raw)) return null;
  if (hash >= 0 && unescapeBytes(ENCODER.encode(text.slice(hash + 1)), false) === null) return null;
  if (raw === "*") return { scheme: "", host: "", path: "*", query: "" };
  const split = splitScheme(raw);
  if (split === null) return null;
  const scheme = split[0].toLowerCase();
  let rest = split[1];
  let query = "";
  const question = rest.indexOf("?");
  if (question >= 0) {
    query = rest.slice(question + 1);
    rest = rest.slice(0, question);
  }
  if (!rest.startsWith("/")) {
    if (scheme !== "") return { scheme, host: "", path: "", query }; // opaque, e.g. "mailto:x"
    const slash = rest.indexOf("/");
    if ((slash < 0 ? rest : rest.slice(0, slash)).includes(":")) return null;
  }
  let host = "";
  if ((scheme !== "" || !rest.startsWith("///")) && rest.startsWith("//")) {
    const slash = rest.indexOf("/", 2);
    const authority = slash < 0 ? rest.slice(2) : rest.slice(2, slash);
    rest = slash < 0 ? "" : rest.slice(slash);
    const valid = validAuthority(authority);
    if (valid === null) return null;
    host = valid;
  }
  const path = escapedPath(rest);
  return path === null ? null : { scheme, host, path, query };
}

function decodeComponent(text: string): string | null {
  if (!text.includes("%") && !text.includes("+")) return text;
  const bytes = unescapeBytes(ENCODER.encode(text), true);
  return bytes === null ? null : DECODER.decode(bytes);
}

/**
 * Parses a raw query like Go's `url.ParseQuery`, keeping what `r.URL.Query()` keeps: pairs split on `&`
 * only, a pair with `;` or a bad escape dropped, `+` as space, values in order.
 * @returns name → values, names in first-seen order.
 */
export function parseQuery(query: string): Map<string, string[]> {
  const values = new Map<string, string[]>();
  if (query === "") return values;
  for (const pair of query.split("&")) {
    if (pair === "" || pair.includes(";")) continue;
    const eq = pair.indexOf("=");
    const key = decodeComponent(eq < 0 ? pair : pair.slice(0, eq));
    const value = decodeComponent(eq < 0 ? "" : pair.slice(eq + 1));
    if (key === null || value === null) continue;
    const list = values.get(key);
    if (list) list.push(value);
    else values.set(key, [value]);
  }
  return values;
}

/** Go's `url.QueryEscape`: everything but letters, digits and `-_.~` escaped, space as `+`. */
export function queryEscape(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, "+");
}

/** Encodes like Go's `url.Values.Encode()`: names sorted, values in order, form-style escaping. */
export function encodeQuery(values: Map<string, string[]>): string {
  const parts: string[] = [];
  for (const key of [...values.keys()].sort()) {
    const name = queryEscape(key);
    for (const value of values.get(key)!) parts.push(`${name}=${queryEscape(value)}`);
  }
  return parts.join("&");
}
