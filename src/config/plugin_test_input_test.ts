import assert from "node:assert/strict";
import { parsePluginTestInput } from "./plugin_test_input.ts";

Deno.test("parsePluginTestInput() matches keys like Go and fills the defaults", () => {
  const input = parsePluginTestInput({
    Code: "var x;",
    HOOK_TYPE: "post",
    Org_Id: "o",
    Request: { method: "PUT", headers: { "X-A": ["1"] } },
    session: { meta_data: { a: "b" } },
  });
  assert.ok(!("error" in input));
  assert.equal(input.code, "var x;");
  assert.equal(input.hookType, "post");
  assert.equal(input.apiId, "__sandbox__");
  assert.deepEqual(input.request, { Method: "PUT", Headers: { "X-A": ["1"] } });
  assert.deepEqual(input.session?.meta_data, { a: "b" });
  assert.equal(input.configData, null);
});

Deno.test("parsePluginTestInput() answers Tyk's 400 messages, first problem first", () => {
  const error = (body: unknown) => (parsePluginTestInput(body) as { error: string }).error;
  assert.equal(error(null), "invalid request body: it must be a JSON object");
  assert.equal(
    error({ code: "x", hook_type: "pre", org_id: "o", request: { Headers: { A: "1" } } }),
    'invalid request body: request.Headers.A must be a list of strings, got "1"',
  );
  assert.equal(error({ code: " \n", hook_type: "nope" }), "code is required");
  assert.equal(
    error({ code: "x", hook_type: "nope" }),
    "invalid hook_type: must be one of pre, post, post_key_auth, auth_check, response",
  );
  assert.equal(error({ code: "x", hook_type: "pre" }), "org_id is required");
  assert.equal(
    error({ code: "x", hook_type: "response", org_id: "o" }),
    "response is required for response hooks",
  );
  assert.match(error({ code: "x", hook_type: "pre", org_id: "o", session: [] }), /^invalid session JSON: /);
});
