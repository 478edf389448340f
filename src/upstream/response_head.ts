/**
 * Reads an HTTP/1.x response head as Go's client does: lines may end in CRLF or a bare LF, continuation lines
 * are folded into the previous value, Transfer-Encoding `chunked` wins over Content-Length, differing
 * Content-Length values or an unknown transfer coding are errors, and HEAD, 1xx, 204 and 304 have no body.
 */

/** A parsed response head. */
export interface ResponseHead {
  status: number;
  statusText: string;
  /** Header lines in order, names as received; Transfer-Encoding is left out (the body is de-chunked). */
  headers: [string, string][];
  /** Body length in bytes, {@link CHUNKED}, or {@link UNTIL_CLOSE}. */
  bodyLength: number;
  /** The connection may carry another request once the body was read. */
  keepAlive: boolean;
}

/** `bodyLength` of a chunked body. */
export const CHUNKED = -1;
/** `bodyLength` of a body that ends when the upstream closes the connection. */
export const UNTIL_CLOSE = -2;

/** The upstream answered something that is not HTTP/1.x. */
export class MalformedResponse extends Error {
  override name = "MalformedResponse";
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/;
const DIGITS = /^\d{1,15}$/;
const DECODER = new TextDecoder();

/**
 * Where the head that starts at `from` ends (the index just past its blank line), or -1 if it has not all
 * arrived yet.
 */
export function headEnd(buf: Uint8Array, from: number, to: number): number {
  for (let i = buf.indexOf(0x0a, from); i >= 0 && i < to; i = buf.indexOf(0x0a, i + 1)) {
    if (i + 1 < to && buf[i + 1] === 0x0a) return i + 2;
    if (i + 2 < to && buf[i + 1] === 0x0d && buf[i + 2] === 0x0a) return i + 3;
  }
  return -1;
}

/** Bytes as a byte string: header bytes above 0x7f stay one character each, as `Headers` expects. */
function byteString(buf: Uint8Array, from: number, to: number): string {
  const text = DECODER.decode(buf.subarray(from, to));
  // one character per byte and no replacement character: every byte was ASCII
  if (text.length === to - from && text.indexOf("\uFFFD") < 0) return text;
  let out = "";
  for (let i = from; i < to; i++) out += String.fromCharCode(buf[i]);
  return out;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

function hasToken(value: string, token: string): boolean {
  for (const part of value.split(",")) if (part.trim().toLowerCase() === token) return true;
  return false;
}

/**
 * Parses the head in `buf[from, end)` (`end` from {@link headEnd}).
 * @param method the request's method: a HEAD response has no body whatever its headers say
 * @throws MalformedResponse
 */
export function parseResponseHead(buf: Uint8Array, from: number, end: number, method: string): ResponseHead {
  const text = byteString(buf, from, end);
  let lineEnd = text.indexOf("\n");
  const statusLine = text.slice(0, text.charCodeAt(lineEnd - 1) === 0x0d ? lineEnd - 1 : lineEnd);
  const status = STATUS_LINE.exec(statusLine);
  if (!status) {
    throw new MalformedResponse(`malformed HTTP status line ${JSON.stringify(statusLine.slice(0, 80))}`);
  }
  const minor = status[1];
  const code = Number(status[2]);
  const headers: [string, string][] = [];
  let length: string | null = null;
  let chunked = false;
  let connection = "";
  // one header line per pass, found with indexOf rather than split: this runs for every proxied response
  for (let start = lineEnd + 1; start < text.length; start = lineEnd + 1) {
    lineEnd = text.indexOf("\n", start);
    if (lineEnd < 0) lineEnd = text.length;
    let stop = text.charCodeAt(lineEnd - 1) === 0x0d ? lineEnd - 1 : lineEnd;
    if (stop <= start) continue;
    if (isSpace(text.charCodeAt(start))) {
      if (headers.length === 0) throw new MalformedResponse("malformed MIME header: leading space");
      const last = headers[headers.length - 1];
      last[1] = `${last[1]} ${text.slice(start, stop).trim()}`;
      continue;
    }
    const colon = text.indexOf(":", start);
    const name = colon > start && colon < stop ? text.slice(start, colon) : "";
    if (!TOKEN.test(name)) {
      throw new MalformedResponse(
        `malformed MIME header line ${JSON.stringify(text.slice(start, stop).slice(0, 80))}`,
      );
    }
    let valueStart = colon + 1;
    while (valueStart < stop && isSpace(text.charCodeAt(valueStart))) valueStart++;
    while (stop > valueStart && isSpace(text.charCodeAt(stop - 1))) stop--;
    const value = text.slice(valueStart, stop);
    const lower = name.length === 14 || name.length === 17 || name.length === 10 ? name.toLowerCase() : "";
    if (lower === "content-length") {
      if (!DIGITS.test(value)) throw new MalformedResponse(`bad Content-Length ${JSON.stringify(value)}`);
      if (length !== null && length !== value) {
        throw new MalformedResponse("message cannot contain multiple Content-Length headers");
      }
      if (length !== null) continue;
      length = value;
    } else if (lower === "transfer-encoding") {
      if (chunked || value.toLowerCase() !== "chunked") {
        throw new MalformedResponse(`unsupported transfer encoding ${JSON.stringify(value)}`);
      }
      chunked = true;
      continue;
    } else if (lower === "connection") {
      connection = connection ? `${connection},${value}` : value;
    }
    headers.push([name, value]);
  }
  const keepAlive = minor === "1" ? !hasToken(connection, "close") : hasToken(connection, "keep-alive");
  let bodyLength: number;
  if (method === "HEAD" || code < 200 || code === 204 || code === 304) bodyLength = 0;
  else if (chunked) bodyLength = CHUNKED;
  else if (length !== null) bodyLength = Number(length);
  else bodyLength = UNTIL_CLOSE;
  if (chunked && length !== null) {
    // Go drops a Content-Length that came with chunked: the de-chunked body has no declared length
    const at = headers.findIndex(([name]) => name.toLowerCase() === "content-length");
    headers.splice(at, 1);
  }
  return { status: code, statusText: status[3] ?? "", headers, bodyLength, keepAlive };
}
