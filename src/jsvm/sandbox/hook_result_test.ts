import assert from "node:assert/strict";
import { GoJsonError } from "../go/json.ts";
import { decodeRequestHookResult } from "./hook_result.ts";

function request(fields: string): string {
  return `{"Request":{${fields}}}`;
}

Deno.test("decodeRequestHookResult() accepts the documented snake_case ReturnOverrides keys", () => {
  const result = decodeRequestHookResult(request(
    '"ReturnOverrides":{"ResponseCode":0,"ResponseError":"","ResponseBody":"","ResponseHeaders":null,' +
      '"OverrideError":false,"response_code":403,"response_body":"Access Denied",' +
      '"headers":{"X-Error":"the-condition"},"Override_Error":true,"RESPONSE_ERROR":"e"}',
  ));
  assert.deepEqual(result.Request.ReturnOverrides, {
    ResponseCode: 403,
    ResponseError: "e",
    ResponseBody: "Access Denied",
    ResponseHeaders: { "X-Error": "the-condition" },
    OverrideError: true,
  });
  // Go-style spellings keep working, and "code"/"body" stay unknown
  const go = decodeRequestHookResult(request('"returnoverrides":{"responseCode":201,"code":500,"body":"x"}'));
  assert.equal(go.Request.ReturnOverrides.ResponseCode, 201);
  assert.equal(go.Request.ReturnOverrides.ResponseBody, "");
});

Deno.test("decodeRequestHookResult() keeps the Body as validated base64, line breaks dropped", () => {
  assert.equal(decodeRequestHookResult(request('"Body":"YWJj\\r\\nZA=="')).Request.Body, "YWJjZA==");
  assert.throws(() => decodeRequestHookResult(request('"Body":"YWJjZA"')), GoJsonError); // padding is required
});

Deno.test("decodeRequestHookResult() takes the JSON.parse shortcut only where Go reads the same", () => {
  const canonical = [
    JSON.stringify({
      Request: {
        Headers: { Host: ["gw"], "X-Multi": ["a", "b"] },
        SetHeaders: { "X-Hook": "1" },
        DeleteHeaders: ["X-Gone"],
        Body: "aGk=",
        URL: "/a?b=1",
        Params: { b: ["1"] },
        AddParams: {},
        ExtendedParams: { c: ["2", "3"] },
        DeleteParams: [],
        ReturnOverrides: {
          ResponseCode: 403,
          ResponseError: "no",
          ResponseBody: "",
          ResponseHeaders: { "X-R": "1" },
          OverrideError: true,
        },
        IgnoreBody: false,
        Method: "GET",
        RequestURI: "/a?b=1",
        Scheme: "http",
      },
      SessionMeta: { seen: "yes" },
    }),
    JSON.stringify({ Request: { URL: "/x" }, Session: { rate: 1, meta_data: {} }, AuthValue: "key" }),
    JSON.stringify({ Request: { Headers: null, SetHeaders: null, Body: null }, SessionMeta: null }),
  ];
  for (const text of canonical) {
    // a trailing space makes the text differ from what JSON.stringify writes: the full decoder runs
    assert.deepEqual(decodeRequestHookResult(text), decodeRequestHookResult(`${text} `), text);
    // JSON.stringify's own output needs no check, and field order does not matter
    assert.deepEqual(decodeRequestHookResult(text, true), decodeRequestHookResult(`${text} `), text);
  }
  const lone = JSON.stringify({ Request: { URL: "/\ud800" } });
  assert.equal(decodeRequestHookResult(lone, true).Request.URL, "/\ufffd", "escaped by JSON.stringify");
  // Compact texts that JSON.parse reads differently from Go: each must still get Go's answer.
  assert.deepEqual(
    decodeRequestHookResult(request('"SetHeaders":{"A":"1"},"SetHeaders":{"B":"2"}')).Request.SetHeaders,
    { A: "1", B: "2" },
  );
  for (const code of ["2e2", "200.0", "-0.0"]) {
    assert.throws(
      () => decodeRequestHookResult(request(`"ReturnOverrides":{"ResponseCode":${code}}`)),
      GoJsonError,
    );
  }
  assert.equal(decodeRequestHookResult(request('"URL":"/\\ud800"')).Request.URL, "/\ufffd");
  assert.equal(decodeRequestHookResult(request('"url":"/folded"')).Request.URL, "/folded");
  assert.equal(decodeRequestHookResult(request('"URL":null')).Request.URL, "");
  assert.deepEqual(decodeRequestHookResult(request('"Body":"YWJj\\r\\nZA=="')).Request.Body, "YWJjZA==");
  assert.deepEqual(
    Object.getPrototypeOf(
      decodeRequestHookResult(request('"SetHeaders":{"__proto__":"x"}')).Request.SetHeaders,
    ),
    Object.prototype,
  );
});
