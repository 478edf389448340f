import assert from "node:assert/strict";
import {
  decodeGoJson,
  decodeRequestHookResult,
  GO_ANY,
  GO_INT,
  GO_STRING,
  GoJsonError,
  goMap,
  goSlice,
  goStruct,
} from "./json.ts";

const CODE = goStruct([{ name: "Code", type: GO_INT }, { name: "Name", type: GO_STRING }]);

function request(fields: string): string {
  return `{"Request":{${fields}}}`;
}

Deno.test("decodeGoJson() matches keys case-insensitively, Kelvin sign and long s included", () => {
  assert.deepEqual(decodeGoJson('{"code":1,"NAME":"a"}', CODE), { Code: 1, Name: "a" });
  assert.deepEqual(decodeGoJson('{"CODE":2,"nAmE":"b"}', CODE), { Code: 2, Name: "b" });
  const kelvin = goStruct([{ name: "Key", type: GO_STRING }, { name: "Size", type: GO_STRING }]);
  assert.deepEqual(decodeGoJson('{"\u212Aey":"k","\u017Fize":"s"}', kelvin), { Key: "k", Size: "s" });
  // the dotless i upper-cases to I in JS but does not fold to it in Go
  assert.deepEqual(decodeGoJson('{"Name":"x","Nam\u0131":"y"}', CODE), { Code: 0, Name: "x" });
});

Deno.test("decodeGoJson() lets the last matching key win in document order", () => {
  assert.equal(decodeGoJson<{ Name: string }>('{"Name":"a","name":"b"}', CODE).Name, "b");
  assert.deepEqual(decodeGoJson('{"name":"a","Name":"b","name":"c"}', CODE), { Code: 0, Name: "c" });
  const result = decodeRequestHookResult(request('"URL":"/a","url":"/b"'));
  assert.equal(result.Request.URL, "/b");
});

Deno.test("decodeGoJson() ignores unknown keys and leaves zero values for absent ones", () => {
  assert.deepEqual(decodeGoJson('{"Other":{"deep":[1,{"x":null}]},"Code":3}', CODE), { Code: 3, Name: "" });
  const result = decodeRequestHookResult("{}");
  assert.equal(result.Request.URL, "");
  assert.equal(result.Request.Body, null);
  assert.equal(result.Request.ReturnOverrides.ResponseCode, 0);
  assert.equal(result.Request.ReturnOverrides.ResponseHeaders, null);
  assert.equal(result.SessionMeta, null);
  assert.equal(result.Session, null);
  assert.equal(result.AuthValue, "");
});

Deno.test("decodeGoJson() treats null as Go does: zero for maps and slices, no change for scalars", () => {
  assert.deepEqual(decodeGoJson('{"Name":"a","Name":null,"Code":null}', CODE), { Code: 0, Name: "a" });
  const result = decodeRequestHookResult(
    request('"SetHeaders":{"a":"1"},"SetHeaders":null,"DeleteHeaders":null'),
  );
  assert.equal(result.Request.SetHeaders, null);
  assert.equal(result.Request.DeleteHeaders, null);
  assert.deepEqual(decodeRequestHookResult('{"SessionMeta":{"a":null,"b":"x"}}').SessionMeta, {
    a: "",
    b: "x",
  });
});

Deno.test("decodeGoJson() merges a repeated object key into the same map, as Go reuses the map", () => {
  const result = decodeRequestHookResult(request('"SetHeaders":{"A":"1"},"setheaders":{"B":"2","A":"3"}'));
  assert.deepEqual(result.Request.SetHeaders, { A: "3", B: "2" });
});

Deno.test("decodeGoJson() accepts only JSON integers for int fields", () => {
  const code = (value: string) =>
    decodeRequestHookResult(request(`"ReturnOverrides":{"ResponseCode":${value}}`));
  assert.equal(code("403").Request.ReturnOverrides.ResponseCode, 403);
  assert.equal(code("-1").Request.ReturnOverrides.ResponseCode, -1);
  for (const bad of ['"200"', "200.0", "200.5", "2e2", "true", "9223372036854775808"]) {
    assert.throws(() => code(bad), (err: unknown) => {
      assert.ok(err instanceof GoJsonError);
      assert.equal(err.path, "Request.ReturnOverrides.ResponseCode");
      return true;
    }, bad);
  }
});

Deno.test("decodeGoJson() throws GoJsonError naming the field path on a type mismatch", () => {
  const cases: Array<[string, string]> = [
    ['{"Request":{"SetHeaders":{"X-Count":5}}}', 'Request.SetHeaders["X-Count"]'],
    ['{"Request":{"DeleteHeaders":["a",1]}}', "Request.DeleteHeaders[1]"],
    ['{"Request":{"ExtendedParams":{"a":"b"}}}', 'Request.ExtendedParams["a"]'],
    ['{"Request":{"Params":{"a":"b"}}}', 'Request.Params["a"]'],
    ['{"Request":{"IgnoreBody":"true"}}', "Request.IgnoreBody"],
    ['{"Request":{"URL":5}}', "Request.URL"],
    ['{"Session":"malformed"}', "Session"],
    ['{"SessionMeta":{"n":1}}', 'SessionMeta["n"]'],
    ['{"AuthValue":{}}', "AuthValue"],
    ['{"Request":{"Body":"not base64!"}}', "Request.Body"],
    ['{"Request":{"Body":"YWJj"}, "Request":[]}', "Request"],
  ];
  for (const [text, path] of cases) {
    assert.throws(() => decodeRequestHookResult(text), (err: unknown) => {
      assert.ok(err instanceof GoJsonError, text);
      assert.equal(err.path, path, text);
      assert.match(err.message, /^Cannot decode JSON: /);
      return true;
    });
  }
});

Deno.test("decodeGoJson() rejects what is not JSON: undefined, [object Object], empty, trailing data", () => {
  for (
    const text of [
      "undefined",
      "[object Object]",
      "",
      "   ",
      '{"a":1} x',
      '{"a":1',
      '{"a":"\u0001"}',
      "{'a':1}",
    ]
  ) {
    assert.throws(() => decodeRequestHookResult(text), GoJsonError, JSON.stringify(text));
  }
});

Deno.test("decodeGoJson() decodes escapes and replaces lone surrogates with U+FFFD", () => {
  assert.equal(
    decodeGoJson<{ Name: string }>('{"Name":"a\\"b\\\\c\\u00e9\\n"}', CODE).Name,
    'a"b\\c\u00e9\n',
  );
  assert.equal(decodeGoJson<{ Name: string }>('{"Name":"x\\ud800y"}', CODE).Name, "x\ufffdy");
  assert.equal(decodeGoJson<{ Name: string }>('{"Name":"\\\\"}', CODE).Name, "\\");
});

Deno.test("decodeGoJson() keeps any-typed values as plain JSON, __proto__ as an own key", () => {
  const type = goStruct([{ name: "Data", type: goMap(GO_ANY) }, { name: "List", type: goSlice(GO_ANY) }]);
  const value = decodeGoJson<{ Data: Record<string, unknown>; List: unknown[] }>(
    '{"Data":{"__proto__":{"polluted":true},"n":1.5},"List":[null,true,"s",{"a":[]}]}',
    type,
  );
  assert.deepEqual(Object.keys(value.Data), ["__proto__", "n"]);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.deepEqual(value.List, [null, true, "s", { a: [] }]);
});

Deno.test("decodeRequestHookResult() accepts the documented snake_case ReturnOverrides keys (DECISIONS #4)", () => {
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
