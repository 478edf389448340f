import assert from "node:assert/strict";
import { decodeGoJson, GO_ANY, GO_INT, GO_STRING, GoJsonError, goMap, goSlice, goStruct } from "./json.ts";
// the hook result is the struct these rules matter for, so it serves as the test subject
import { decodeRequestHookResult } from "../sandbox/hook_result.ts";

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
