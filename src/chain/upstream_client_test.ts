import assert from "node:assert/strict";
import { frameBody } from "./upstream_client.ts";

function framing(
  method: string,
  body: ReadableStream<Uint8Array> | Uint8Array | null,
  given: HeadersInit = {},
) {
  const headers = new Headers(given);
  const sent = frameBody(method, headers, body);
  return {
    length: headers.get("content-length"),
    te: headers.get("transfer-encoding"),
    sent: sent instanceof Uint8Array ? sent.length : sent === null ? null : "stream",
  };
}

Deno.test("frameBody() frames bytes by their length on every method, as Go's client does", () => {
  const five = new TextEncoder().encode("hello");
  for (const method of ["GET", "HEAD", "DELETE", "POST"]) {
    assert.deepEqual(framing(method, five, { "content-length": "99", "transfer-encoding": "chunked" }), {
      length: "5",
      te: null,
      sent: 5,
    }, method);
  }
});

Deno.test("frameBody() sends Content-Length: 0 only for an empty POST, PUT or PATCH", () => {
  for (const method of ["POST", "PUT", "PATCH"]) {
    assert.deepEqual(framing(method, null), { length: "0", te: null, sent: null }, method);
    assert.deepEqual(framing(method, new Uint8Array(0)), { length: "0", te: null, sent: null }, method);
  }
  for (const method of ["GET", "HEAD", "DELETE", "OPTIONS"]) {
    assert.deepEqual(framing(method, null, { "content-length": "5" }), {
      length: null,
      te: null,
      sent: null,
    });
  }
});

Deno.test("frameBody() keeps a stream's valid client length and chunks any other stream", () => {
  const stream = () => new ReadableStream<Uint8Array>();
  assert.equal(framing("POST", stream(), { "content-length": "12" }).length, "12");
  assert.deepEqual(framing("POST", stream()).te, "chunked");
  assert.deepEqual(framing("POST", stream(), { "content-length": "1, 2" }), {
    length: null,
    te: "chunked",
    sent: "stream",
  });
});
