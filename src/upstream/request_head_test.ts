import assert from "node:assert/strict";
import { type BodyFraming, framingFor, type RequestHead, writeRequestHead } from "./request_head.ts";

const five = new TextEncoder().encode("hello");

function head(extra: Partial<RequestHead> = {}): string {
  const bytes = writeRequestHead({
    method: "GET",
    target: "/x",
    host: "up:9000",
    headers: new Headers(),
    framing: null,
    ...extra,
  });
  return String.fromCharCode(...bytes);
}

Deno.test("framingFor() frames bytes by their length on every method, as Go's client does", () => {
  for (const method of ["GET", "HEAD", "DELETE", "POST"]) assert.equal(framingFor(method, five), 5, method);
});

Deno.test("framingFor() gives Content-Length: 0 only to an empty POST, PUT or PATCH", () => {
  for (const method of ["POST", "PUT", "PATCH"]) {
    assert.equal(framingFor(method, null), 0, method);
    assert.equal(framingFor(method, new Uint8Array(0)), 0, method);
  }
  for (const method of ["GET", "HEAD", "DELETE", "OPTIONS"]) {
    assert.equal(framingFor(method, null), null, method);
  }
});

Deno.test("framingFor() keeps a stream's known length and chunks any other stream", () => {
  const stream = new ReadableStream<Uint8Array>();
  assert.equal<BodyFraming>(framingFor("POST", stream, 12), 12);
  assert.equal<BodyFraming>(framingFor("GET", stream), "chunked");
});

Deno.test("writeRequestHead() writes Host first, canonical names, and framing from the body, not the header map", () => {
  const headers = new Headers([
    ["x-api-key", "k"],
    ["www-authenticate", "w"],
    ["host", "ignored"],
    ["content-length", "99"],
    ["transfer-encoding", "chunked"],
  ]);
  assert.equal(
    head({ headers, framing: 5 }),
    "GET /x HTTP/1.1\r\nHost: up:9000\r\nWww-Authenticate: w\r\nX-Api-Key: k\r\nContent-Length: 5\r\n\r\n",
  );
  assert.equal(
    head({ framing: "chunked" }),
    "GET /x HTTP/1.1\r\nHost: up:9000\r\nTransfer-Encoding: chunked\r\n\r\n",
  );
});

Deno.test("writeRequestHead() writes recorded names as written and leaves out skipped ones", () => {
  const headers = new Headers([["x-certificateouid", "7"], ["connection", "x"], ["keep-alive", "1"]]);
  assert.equal(
    head({
      headers,
      headerCase: new Map([["x-certificateouid", "X-CertificateOuid"]]),
      skip: new Set(["connection", "keep-alive"]),
    }),
    "GET /x HTTP/1.1\r\nHost: up:9000\r\nX-CertificateOuid: 7\r\n\r\n",
  );
});

Deno.test("writeRequestHead() with close replaces any Connection header by close", () => {
  const headers = new Headers([["connection", "keep-alive"]]);
  assert.equal(
    head({ headers, close: true }),
    "GET /x HTTP/1.1\r\nHost: up:9000\r\nConnection: close\r\n\r\n",
  );
});

Deno.test("writeRequestHead() sends header bytes above 0x7f as single bytes and escapes unsafe target bytes", () => {
  const bytes = writeRequestHead({
    method: "GET",
    target: "/a b/é",
    host: "h",
    headers: new Headers([["x-latin", "caf\u00e9"]]),
    framing: null,
  });
  const text = String.fromCharCode(...bytes);
  assert.ok(text.startsWith("GET /a%20b/%C3%A9 HTTP/1.1\r\n"), text);
  assert.ok(text.includes("X-Latin: caf\u00e9\r\n"));
  assert.equal(bytes.length, text.length, "one byte per character");
});

Deno.test("writeRequestHead() refuses a method that is not a token", () => {
  assert.throws(() => head({ method: "GET /evil HTTP/1.1\r\nX:" }), TypeError);
  assert.throws(() => head({ method: "" }), TypeError);
});
