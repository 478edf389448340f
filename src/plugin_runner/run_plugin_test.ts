import assert from "node:assert/strict";
import { parsePluginTestInput, type PluginTestInput } from "../config/plugin_test_input.ts";
import { runPluginTest } from "./run_plugin.ts";

function input(body: Record<string, unknown>): PluginTestInput {
  const parsed = parsePluginTestInput({ org_id: "o", hook_type: "pre", ...body });
  if ("error" in parsed) throw new Error(parsed.error);
  return parsed;
}

Deno.test("runPluginTest() reports a source that hangs while loading as a timeout", async () => {
  const result = await runPluginTest(input({ code: "for (;;) {}" }), { timeoutMs: 300 });
  assert.equal(result.error?.type, "timeout");
  assert.equal(result.request_after, undefined);
});

Deno.test("runPluginTest() gives a response hook the response and the request without its body", async () => {
  const result = await runPluginTest(
    input({
      hook_type: "response",
      code: `var r = new TykJS.TykMiddleware.NewMiddleware({});
r.NewProcessResponse(function (response, request) {
  response.Body = JSON.stringify({ body: request.Body, url: request.URL, headers: request.Headers });
  return r.ReturnResponseData(response, {});
});`,
      request: {
        Path: "/p",
        Scheme: "http",
        Params: { a: ["1"] },
        Headers: { "x-lower": ["kept as given"] },
      },
      response: { Body: "x" },
    }),
    { timeoutMs: 2000 },
  );
  assert.equal(result.error, undefined);
  assert.deepEqual(JSON.parse(result.response_after!.Body as string), {
    body: null,
    url: "http://__sandbox__/p?a=1",
    headers: { "x-lower": ["kept as given"] },
  });
  assert.equal(result.request_before, undefined, "a response hook's test shows no request, as Tyk's");
  assert.equal(result.session_after, undefined, "an empty SessionMeta is left out for response hooks");
});
