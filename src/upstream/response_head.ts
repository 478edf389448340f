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
  let ascii = true;
  for (let i = from; i < to; i++) {
    if (buf[i] > 0x7f) {
      ascii = false;
      break;
    }
  }
  if (ascii) return DECODER.decode(buf.subarray(from, to));
  let out = "";
  for (let i = from; i < to; i++) out += String.fromCharCode(buf[i]);
  return out;
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
  const lines = byteString(buf, from, end).split("\n");
  const statusLine = lines[0].endsWith("\r") ? lines[0].slice(0, -1) : lines[0];
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
  for (let i = 1; i < lines.length; i++) {
    let line = lines[i];
    if (line.endsWith("\r")) line = line.slice(0, -1);
    if (line === "") continue;
    const first = line.charCodeAt(0);
    if (first === 0x20 || first === 0x09) {
      if (headers.length === 0) throw new MalformedResponse("malformed MIME header: leading space");
      const last = headers[headers.length - 1];
      last[1] = `${last[1]} ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(":");
    const name = colon > 0 ? line.slice(0, colon) : "";
    if (!TOKEN.test(name)) {
      throw new MalformedResponse(`malformed MIME header line ${JSON.stringify(line.slice(0, 80))}`);
    }
    const value = line.slice(colon + 1).trim();
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
