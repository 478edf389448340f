/**
 * A request in HTTP/1.1 wire format, as Go's `Request.Write` prints it for Tyk's `OriginatingRequest`:
 * request line, `Host`, `User-Agent` (Go's own when the client sent none), `Content-Length` when there is a
 * body, the other headers sorted by canonical name, a blank line and the body. The body is included when a
 * step already buffered it; a body still streaming is not read for an event.
 */
import type { RequestCtx } from "../context.ts";

const SKIPPED = new Set(["host", "user-agent", "content-length", "transfer-encoding", "trailer"]);
const ENCODER = new TextEncoder();

/** Go's `CanonicalMIMEHeaderKey` for the common case: each `-`-separated word capitalised. */
function canonical(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_m, dash: string, letter: string) => dash + letter.toUpperCase());
}

/** The request's wire bytes. */
export function wireRequest(ctx: RequestCtx): Uint8Array {
  const headers = ctx.request.headers;
  const body = ctx.body instanceof Uint8Array ? ctx.body : null;
  let head = `${ctx.request.method} ${ctx.requestURI} HTTP/1.1\r\n`;
  head += `Host: ${headers.get("host") ?? new URL(ctx.request.url).host}\r\n`;
  head += `User-Agent: ${headers.get("user-agent") ?? "Go-http-client/1.1"}\r\n`;
  if (body !== null && body.length > 0) head += `Content-Length: ${body.length}\r\n`;
  const lines: string[] = [];
  headers.forEach((value, name) => {
    if (!SKIPPED.has(name)) lines.push(`${canonical(name)}: ${value}\r\n`);
  });
  head += lines.sort().join("") + "\r\n";
  const headBytes = ENCODER.encode(head);
  if (body === null) return headBytes;
  const out = new Uint8Array(headBytes.length + body.length);
  out.set(headBytes);
  out.set(body, headBytes.length);
  return out;
}

/** {@link wireRequest} in standard base64, as the `OriginatingRequest` field carries it. */
export function originatingRequest(ctx: RequestCtx): string {
  const bytes = wireRequest(ctx);
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}
