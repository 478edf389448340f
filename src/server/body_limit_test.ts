import assert from "node:assert/strict";
import { checkBodySize, countedBody } from "./body_limit.ts";

const post = (headers: Record<string, string> = {}) =>
  new Request("http://gw/", { method: "POST", body: "x", headers });

Deno.test("checkBodySize() refuses a Content-Length over the limit and counts a body without one", () => {
  const body = new ReadableStream();
  assert.equal(checkBodySize(post({ "content-length": "11" }), body, 10), "too large");
  assert.equal(checkBodySize(post({ "content-length": "10" }), body, 10), "ok");
  assert.equal(checkBodySize(new Request("http://gw/", { method: "POST", body }), body, 10), "count");
  assert.equal(checkBodySize(post({ "content-length": "11" }), body, 0), "ok", "0 means no limit");
  assert.equal(checkBodySize(post(), null, 10), "ok", "no body");
});

Deno.test("countedBody() passes a body within the limit through unchanged", async () => {
  let over = false;
  const body = countedBody(new Response("hello world").body!, 11, () => over = true);
  assert.equal(await new Response(body).text(), "hello world");
  assert.equal(over, false);
});

Deno.test("countedBody() errors a body that grows past the limit and reports it", async () => {
  let over = false;
  const body = countedBody(new Response("hello world").body!, 10, () => over = true);
  await assert.rejects(new Response(body).text(), /longer than max_request_body_size \(10 bytes\)/);
  assert.equal(over, true);
});
