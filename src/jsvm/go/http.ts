/**
 * The two pieces of Go's `net/http` that plugins can observe: canonical header names and the
 * Content-Type Go's server sniffs for a response written without one.
 *
 * Runs on both sides; inside the sandbox, after plugin code (`sandbox/request_hook.ts`), with built-ins used
 * directly, as `sandbox/_primordials.ts` allows for code that only shapes a plugin's own result.
 */

/** Bytes Go accepts in a header name (RFC 7230 token characters). */
function isTokenChar(c: number): boolean {
  if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57)) return true;
  return "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c));
}

/** Header names seen so far; names repeat across requests, so this saves rebuilding them. */
const CANONICAL = new Map<string, string>();
const CANONICAL_CACHE_SIZE = 1024;

/**
 * Go's `http.CanonicalHeaderKey`: upper-case the first letter and each letter after `-`, lower-case the
 * rest; a name with a byte outside the token set is returned unchanged.
 * @example canonicalHeaderKey("x-api-KEY") // "X-Api-Key"
 */
export function canonicalHeaderKey(name: string): string {
  let known = CANONICAL.get(name);
  if (known === undefined) {
    known = canonicalise(name);
    if (CANONICAL.size < CANONICAL_CACHE_SIZE) CANONICAL.set(name, known);
  }
  return known;
}

function canonicalise(name: string): string {
  let out = "";
  let upper = true;
  for (let i = 0; i < name.length; i++) {
    let c = name.charCodeAt(i);
    if (!isTokenChar(c)) return name;
    if (upper && c >= 97 && c <= 122) c -= 32;
    else if (!upper && c >= 65 && c <= 90) c += 32;
    out += String.fromCharCode(c);
    upper = c === 0x2d;
  }
  return out;
}

const HTML_TAGS = [
  "<!DOCTYPE HTML",
  "<HTML",
  "<HEAD",
  "<SCRIPT",
  "<IFRAME",
  "<H1",
  "<DIV",
  "<FONT",
  "<TABLE",
  "<A",
  "<STYLE",
  "<TITLE",
  "<B",
  "<BODY",
  "<BR",
  "<P",
  "<!--",
];

/** Prefixes matched byte for byte, in Go's order after the HTML and XML checks. */
const EXACT: Array<[number[], string]> = [
  [[0x25, 0x50, 0x44, 0x46, 0x2d], "application/pdf"], // %PDF-
  [[..."%!PS-Adobe-"].map((c) => c.charCodeAt(0)), "application/postscript"],
  [[0xfe, 0xff], "text/plain; charset=utf-16be"],
  [[0xff, 0xfe], "text/plain; charset=utf-16le"],
  [[0xef, 0xbb, 0xbf], "text/plain; charset=utf-8"],
  [[0x00, 0x00, 0x01, 0x00], "image/x-icon"],
  [[0x00, 0x00, 0x02, 0x00], "image/x-icon"],
  [[0x42, 0x4d], "image/bmp"], // BM
  [[..."GIF87a"].map((c) => c.charCodeAt(0)), "image/gif"],
  [[..."GIF89a"].map((c) => c.charCodeAt(0)), "image/gif"],
  [[0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], "image/png"],
  [[0xff, 0xd8, 0xff], "image/jpeg"],
  [[0x50, 0x4b, 0x03, 0x04], "application/zip"],
  [[0x1f, 0x8b, 0x08], "application/x-gzip"],
  [[0x00, 0x61, 0x73, 0x6d], "application/wasm"],
];

function startsWith(data: Uint8Array, at: number, prefix: number[]): boolean {
  if (data.length - at < prefix.length) return false;
  return prefix.every((b, i) => data[at + i] === b);
}

/** Go's case-insensitive HTML signature: the tag, then a space or `>`. */
function matchesHtml(data: Uint8Array, at: number, tag: string): boolean {
  if (data.length - at < tag.length + 1) return false;
  for (let i = 0; i < tag.length; i++) {
    const want = tag.charCodeAt(i);
    let got = data[at + i];
    if (want >= 65 && want <= 90) got &= 0xdf;
    if (got !== want) return false;
  }
  const next = data[at + tag.length];
  return next === 0x20 || next === 0x3e;
}

function isBinaryByte(b: number): boolean {
  return b <= 0x08 || b === 0x0b || (b >= 0x0e && b <= 0x1a) || (b >= 0x1c && b <= 0x1f);
}

/**
 * Sniffs a Content-Type as Go's `http.DetectContentType` does for the common cases: HTML, XML, PDF,
 * images, archives, byte-order marks, then plain text or `application/octet-stream`. JSON is plain text.
 */
export function detectContentType(body: Uint8Array): string {
  const data = body.subarray(0, 512);
  let start = 0;
  while (start < data.length && [0x09, 0x0a, 0x0c, 0x0d, 0x20].includes(data[start])) start++;
  if (HTML_TAGS.some((tag) => matchesHtml(data, start, tag))) return "text/html; charset=utf-8";
  if (startsWith(data, start, [0x3c, 0x3f, 0x78, 0x6d, 0x6c])) return "text/xml; charset=utf-8"; // <?xml
  for (const [prefix, type] of EXACT) if (startsWith(data, 0, prefix)) return type;
  if (
    startsWith(data, 0, [0x52, 0x49, 0x46, 0x46]) && startsWith(data, 8, [0x57, 0x45, 0x42, 0x50, 0x56, 0x50])
  ) {
    return "image/webp"; // RIFF....WEBPVP
  }
  for (let i = start; i < data.length; i++) if (isBinaryByte(data[i])) return "application/octet-stream";
  return "text/plain; charset=utf-8";
}

const ENCODER = new TextEncoder();
const DECODER = new TextDecoder();
const HIGH_BYTE = /[\x80-\xff]/;
const NON_ASCII = /[\u0080-\uffff]/;

/**
 * Reads a header value as Go sees it: the `Headers` API hands raw bytes over as Latin-1 characters, Go
 * keeps them as bytes that JSON then reads as UTF-8 (invalid sequences become U+FFFD).
 */
export function fromHeaderValue(value: string): string {
  if (!HIGH_BYTE.test(value)) return value;
  return DECODER.decode(Uint8Array.from(value, (c) => c.charCodeAt(0)));
}

/** Writes a plugin's header value as Go does: its UTF-8 bytes, passed to `Headers` as Latin-1 characters. */
export function toHeaderValue(value: string): string {
  if (!NON_ASCII.test(value)) return value;
  let out = "";
  for (const byte of ENCODER.encode(value)) out += String.fromCharCode(byte);
  return out;
}
