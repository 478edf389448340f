import assert from "node:assert/strict";
import { GoJsonError } from "../go/json.ts";
import type { HookRequest } from "../protocol.ts";
import { virtualRequestObject, virtualResult } from "./virtual_endpoint.ts";

function request(overrides: Partial<HookRequest> = {}): HookRequest {
  return {
    method: "POST",
    requestURI: "/ve/x?a=1&b=2",
    url: "/ve/x?a=1&b=2",
    scheme: "https",
    host: "gw:8080",
    query: "a=1&b=2",
    headers: [
      "content-type",
      "application/x-www-form-urlencoded; charset=utf-8",
      "x-multi",
      "1",
      "x-multi",
      "2",
    ],
    body: btoa("a=0&c=3"),
    ignoreCanonical: false,
    ...overrides,
  };
}

Deno.test("virtualRequestObject() has exactly Headers, Body, URL, Params and Scheme, without Host", () => {
  const object = virtualRequestObject(request());
  assert.deepEqual(Object.keys(object), ["Headers", "Body", "URL", "Params", "Scheme"]);
  assert.deepEqual(object.Headers, {
    "Content-Type": ["application/x-www-form-urlencoded; charset=utf-8"],
    "X-Multi": ["1", "2"],
  });
  assert.equal(object.Body, "a=0&c=3");
  assert.equal(object.URL, "/ve/x?a=1&b=2");
  assert.equal(object.Scheme, "https");
});

Deno.test("virtualRequestObject() puts a url-encoded body's values before the query's, as Go's ParseForm", () => {
  assert.deepEqual(virtualRequestObject(request()).Params, { a: ["0", "1"], b: ["2"], c: ["3"] });
  assert.deepEqual(
    virtualRequestObject(request({ method: "GET" })).Params,
    { a: ["1"], b: ["2"] },
    "a GET body is not form data",
  );
  assert.deepEqual(
    virtualRequestObject(request({ headers: ["content-type", "text/plain"] })).Params,
    { a: ["1"], b: ["2"] },
    "nor is a body of another type",
  );
});

Deno.test("virtualRequestObject() reads a body that is not UTF-8 with U+FFFD, as Go's JSON encoder", () => {
  const body = new Uint8Array([0x61, 0xff, 0x62]).toBase64();
  assert.equal(virtualRequestObject(request({ body, headers: [] })).Body, "a\ufffdb");
});

Deno.test("virtualResult() matches fields case-insensitively and keeps any SessionMeta value", () => {
  assert.deepEqual(
    virtualResult(
      '{"Response":{"body":"hi","HEADERS":{"x-a":"1"},"code":201},"SessionMeta":{"n":1,"o":{"x":[true]}}}',
    ),
    { status: 201, body: "hi", headers: { "x-a": "1" }, sessionMeta: { n: 1, o: { x: [true] } } },
  );
  assert.deepEqual(virtualResult('{"Response":{"Code":200}}'), {
    status: 200,
    body: "",
    headers: {},
    sessionMeta: null,
  });
});

Deno.test("virtualResult() refuses what Go's decoder refuses", () => {
  for (
    const text of [
      "undefined",
      "[object Object]",
      '{"Response":{"Headers":{"X-Count":5},"Code":200}}',
      '{"Response":{"Code":"200"}}',
      '{"Response":{"Code":200.5}}',
      '{"Response":{"Body":1,"Code":200}}',
      '{"Response":{"Code":200},"SessionMeta":"x"}',
    ]
  ) {
    assert.throws(() => virtualResult(text), GoJsonError, text);
  }
});
