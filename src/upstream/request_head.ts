/**
 * Writes an HTTP/1.1 request head the way Go's client does: header names in Go's canonical form unless the
 * caller recorded how one was written (`ignore_canonical_mime_header_key`), and framing derived from the body
 * actually sent, never taken from the header map (whose Host, Content-Length and Transfer-Encoding Go ignores).
 */
import { canonicalHeaderKey } from "../jsvm/go/http.ts";

/** How the body is framed: its byte length, `"chunked"`, or `null` for no body and no framing header. */
export type BodyFraming = number | "chunked" | null;

/** What the head says. */
export interface RequestHead {
  method: string;
  /** The request target in origin form (`/path?query`). */
  target: string;
  /** The Host header's value. */
  host: string;
  /** Everything else; Host, Content-Length and Transfer-Encoding in here are ignored. */
  headers: Headers;
  /** Lower-case name → the name as written; names not in here are written in Go's canonical form. */
  headerCase?: ReadonlyMap<string, string>;
  framing: BodyFraming;
  /** Lower-case names in `headers` not to send (a proxy's hop-by-hop headers). */
  skip?: ReadonlySet<string>;
  /** Ask the upstream to close the connection after this exchange. */
  close?: boolean;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const NOT_TARGET = /[^\x21-\x7e]/;
const SKIPPED = new Set(["host", "content-length", "transfer-encoding"]);
const ENCODER = new TextEncoder();

/**
 * Derives the framing from the body sent, as Go's client does: the length of bytes on every method (a GET
 * or HEAD with a body a plugin set included); chunked for a stream of unknown length; an empty body has no
 * framing header except on POST, PUT and PATCH, which get `Content-Length: 0`.
 * @param streamLength the stream's known length (a valid client Content-Length), or null
 */
export function framingFor(
  method: string,
  body: ReadableStream<Uint8Array> | Uint8Array | null,
  streamLength: number | null = null,
): BodyFraming {
  if (body instanceof ReadableStream) return streamLength ?? "chunked";
  const length = body === null ? 0 : body.byteLength;
  if (length > 0) return length;
  return method === "POST" || method === "PUT" || method === "PATCH" ? 0 : null;
}

/** Percent-encodes what may not appear in a request target (spaces, control and non-ASCII bytes). */
function safeTarget(target: string): string {
  if (!NOT_TARGET.test(target)) return target;
  let out = "";
  for (const byte of ENCODER.encode(target)) {
    out += byte > 0x20 && byte < 0x7f ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase()}`;
  }
  return out;
}

/** The head as bytes; header values are byte strings, so a character above 0x7f is one byte. */
function latin1(text: string): Uint8Array {
  const bytes = ENCODER.encode(text);
  // UTF-8 only grows a string that holds a character above 0x7f: then write each one as its own byte
  if (bytes.length === text.length) return bytes;
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes.subarray(0, text.length);
}

/**
 * Serialises the head, up to and including the blank line.
 * @throws TypeError when the method is not an HTTP token (it would let the caller write a second request)
 */
export function writeRequestHead(head: RequestHead): Uint8Array {
  if (!TOKEN.test(head.method)) {
    throw new TypeError(`Cannot send request: method ${JSON.stringify(head.method)} is not an HTTP token`);
  }
  let text = `${head.method} ${safeTarget(head.target)} HTTP/1.1\r\nHost: ${head.host}\r\n`;
  const names = head.headerCase;
  const skip = head.skip;
  const close = head.close === true;
  head.headers.forEach((value, name) => {
    if (SKIPPED.has(name) || skip?.has(name) || (close && name === "connection")) return;
    text += `${names?.get(name) ?? canonicalHeaderKey(name)}: ${value}\r\n`;
  });
  const framing = head.framing;
  if (framing === "chunked") text += "Transfer-Encoding: chunked\r\n";
  else if (framing !== null) text += `Content-Length: ${framing}\r\n`;
  if (close) text += "Connection: close\r\n";
  return latin1(text + "\r\n");
}
