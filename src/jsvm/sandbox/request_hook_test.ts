import assert from "node:assert/strict";
import { requestObject } from "./request_hook.ts";

Deno.test("requestObject() keeps a header or parameter named __proto__ as an own key, as JSON.parse would", () => {
  const object = requestObject({
    method: "GET",
    requestURI: "/a?__proto__=1",
    url: "/a?__proto__=1",
    scheme: "http",
    host: "gw",
    query: "__proto__=1",
    headers: ["__proto__", "x"],
    body: "",
    ignoreCanonical: false,
  }) as { Headers: object; Params: object };
  for (const map of [object.Headers, object.Params]) {
    assert.equal(Object.getPrototypeOf(map), Object.prototype);
    assert.ok(Object.hasOwn(map, "__proto__"));
  }
  assert.deepEqual(JSON.parse(JSON.stringify(object)).Params, JSON.parse('{"__proto__":["1"]}'));
});
