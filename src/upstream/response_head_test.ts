import assert from "node:assert/strict";
import { CHUNKED, headEnd, MalformedResponse, parseResponseHead, UNTIL_CLOSE } from "./response_head.ts";

function parse(text: string, method = "GET") {
  const bytes = Uint8Array.from(text, (c) => c.charCodeAt(0));
  const end = headEnd(bytes, 0, bytes.length);
  assert.ok(end > 0, "the head is complete");
  return parseResponseHead(bytes, 0, end, method);
}

Deno.test("headEnd() finds the blank line after CRLF or bare LF lines, and -1 before it arrived", () => {
  const bytes = (s: string) => new TextEncoder().encode(s);
  const crlf = bytes("HTTP/1.1 200 OK\r\nA: 1\r\n\r\nbody");
  assert.equal(headEnd(crlf, 0, crlf.length), crlf.length - 4);
  const lf = bytes("HTTP/1.1 200 OK\nA: 1\n\nbody");
  assert.equal(headEnd(lf, 0, lf.length), lf.length - 4);
  const partial = bytes("HTTP/1.1 200 OK\r\nA: 1\r\n");
  assert.equal(headEnd(partial, 0, partial.length), -1);
});

Deno.test("parseResponseHead() reads status, names as sent and the body length", () => {
  const head = parse(
    "HTTP/1.1 201 Created\r\nX-Mixed-Case: a\r\nContent-Length: 12\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n",
  );
  assert.equal(head.status, 201);
  assert.equal(head.statusText, "Created");
  assert.deepEqual(head.headers, [["X-Mixed-Case", "a"], ["Content-Length", "12"], ["Set-Cookie", "a=1"], [
    "Set-Cookie",
    "b=2",
  ]]);
  assert.equal(head.bodyLength, 12);
  assert.equal(head.keepAlive, true);
});

Deno.test("parseResponseHead() lets chunked win over Content-Length and drops both from the headers", () => {
  const head = parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nX: y\r\n\r\n");
  assert.equal(head.bodyLength, CHUNKED);
  assert.deepEqual(head.headers, [["X", "y"]]);
});

Deno.test("parseResponseHead() refuses differing Content-Lengths, bad lengths and unknown codings", () => {
  assert.throws(
    () => parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
    MalformedResponse,
  );
  assert.throws(() => parse("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"), MalformedResponse);
  assert.throws(() => parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"), MalformedResponse);
  assert.throws(() => parse("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n"), MalformedResponse);
  assert.throws(() => parse("HTTP/2 200\r\n\r\n"), MalformedResponse);
  assert.throws(() => parse("HTTP/1.1 20 OK\r\n\r\n"), MalformedResponse);
  const same = parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n");
  assert.equal(same.bodyLength, 5);
  assert.equal(same.headers.length, 1, "a repeated equal length is kept once");
});

Deno.test("parseResponseHead() gives HEAD, 1xx, 204 and 304 no body, and ends an unframed body at close", () => {
  assert.equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", "HEAD").bodyLength, 0);
  assert.equal(parse("HTTP/1.1 204 No Content\r\n\r\n").bodyLength, 0);
  assert.equal(parse("HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n").bodyLength, 0);
  assert.equal(parse("HTTP/1.1 100 Continue\r\n\r\n").bodyLength, 0);
  assert.equal(parse("HTTP/1.1 200 OK\r\n\r\n").bodyLength, UNTIL_CLOSE);
});

Deno.test("parseResponseHead() follows HTTP/1.0 and 1.1 keep-alive rules", () => {
  assert.equal(parse("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n").keepAlive, false);
  assert.equal(parse("HTTP/1.1 200 OK\r\nConnection: Upgrade, Close\r\n\r\n").keepAlive, false);
  assert.equal(parse("HTTP/1.0 200 OK\r\n\r\n").keepAlive, false);
  assert.equal(parse("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n").keepAlive, true);
});

Deno.test("parseResponseHead() folds continuation lines and keeps bytes above 0x7f as single characters", () => {
  const head = parse("HTTP/1.1 200 OK\nX-Folded: a\n  b\nX-Latin: caf\u00e9\n\n");
  assert.deepEqual(head.headers, [["X-Folded", "a b"], ["X-Latin", "caf\u00e9"]]);
});
