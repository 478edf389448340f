import assert from "node:assert/strict";
import type { RequestCtx } from "../context.ts";
import { requestObject } from "../../jsvm/sandbox/request_hook.ts";
import { testCtx } from "../_test_ctx.ts";
import { hookRequest } from "./hook_request.ts";

const ENCODER = new TextEncoder();
const EMPTY = new Uint8Array(0);

/** The request object a plugin receives for the request as it stands: both halves, without a Worker. */
function buildRequestObject(ctx: RequestCtx, body: Uint8Array, ignoreCanonical = false): string {
  return JSON.stringify(requestObject(JSON.parse(hookRequest(ctx, body, ignoreCanonical))));
}

Deno.test("requestObject() produces Tyk's text for a GET with a repeated query parameter exactly", () => {
  const ctx = testCtx("http://gw:8080/sample/get?a=1&a=2", {
    headers: { "user-agent": "curl/8", "accept-encoding": "gzip", host: "gw:8080" },
  });
  assert.equal(
    buildRequestObject(ctx, EMPTY),
    '{"Headers":{"Accept-Encoding":["gzip"],"Host":["gw:8080"],"User-Agent":["curl/8"]},' +
      '"SetHeaders":{},"DeleteHeaders":[],"Body":"","URL":"/sample/get?a=1&a=2",' +
      '"Params":{"a":["1","2"]},"AddParams":{},"ExtendedParams":{},"DeleteParams":[],' +
      '"ReturnOverrides":{"ResponseCode":0,"ResponseError":"","ResponseBody":"","ResponseHeaders":null,"OverrideError":false},' +
      '"IgnoreBody":false,"Method":"GET","RequestURI":"/sample/get?a=1&a=2","Scheme":"http"}',
  );
});

Deno.test("requestObject() canonicalises and sorts headers, keeps Host from the request, reflects edits", () => {
  const ctx = testCtx("http://localhost:8080/api/x%20y?b=2&%zz=1&a=%E2%82%AC", {
    method: "POST",
    headers: { "X-API-KEY": "k", "x-multi": "a, b", "x-utf8": "caf\u00c3\u00a9", "www-authenticate": "w" },
  });
  ctx.headers.delete("host");
  ctx.headers.set("x-added", "1");
  ctx.path = "/api/rewritten";
  const object = JSON.parse(buildRequestObject(ctx, ENCODER.encode("hi")));
  assert.deepEqual(Object.keys(object.Headers), [
    "Host",
    "Www-Authenticate",
    "X-Added",
    "X-Api-Key",
    "X-Multi",
    "X-Utf8",
  ]);
  assert.deepEqual(object.Headers.Host, ["localhost:8080"]);
  assert.deepEqual(object.Headers["X-Utf8"], ["café"]);
  assert.deepEqual(object.Headers["X-Multi"], ["a, b"]);
  assert.equal(object.Body, "aGk=");
  assert.equal(object.URL, "/api/rewritten?b=2&%zz=1&a=%E2%82%AC");
  assert.deepEqual(object.Params, { a: ["€"], b: ["2"] });
  assert.equal(object.RequestURI, "/api/x%20y?b=2&%zz=1&a=%E2%82%AC");
  assert.equal(object.Method, "POST");
});
