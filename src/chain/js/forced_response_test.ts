import assert from "node:assert/strict";
import { captureLog } from "../../capture_log.ts";
import { forcedResponse } from "./forced_response.ts";

function options() {
  const log = captureLog();
  return { log, logFields: { api_id: "api-1" } };
}

Deno.test("forcedResponse() sends the raw body with the plugin's headers, Server and Date overwritten", async () => {
  const response = forcedResponse(200, "Foobarbaz", {
    "X-Foo": "Bar",
    "X-Baz": "Qux",
    Server: "plugin",
    Date: "yesterday",
    "Content-Length": "1",
  }, options());
  assert.equal(response.status, 200);
  assert.equal(await response.text(), "Foobarbaz");
  assert.equal(response.headers.get("x-foo"), "Bar");
  assert.equal(response.headers.get("x-baz"), "Qux");
  assert.equal(response.headers.get("server"), "tyk");
  assert.notEqual(response.headers.get("date"), "yesterday");
  assert.ok(!Number.isNaN(Date.parse(response.headers.get("date")!)));
  assert.equal(response.headers.get("content-type"), "text/plain; charset=utf-8");
});

Deno.test("forcedResponse() sniffs a Content-Type only when none is given and the body is not empty", async () => {
  const html = forcedResponse(201, "<html><body>hi</body></html>", {}, options());
  assert.equal(html.headers.get("content-type"), "text/html; charset=utf-8");
  await html.body?.cancel();
  const given = forcedResponse(200, "{}", { "Content-Type": "application/json" }, options());
  assert.equal(given.headers.get("content-type"), "application/json");
  await given.body?.cancel();
  const empty = forcedResponse(200, "", {}, options());
  assert.equal(empty.headers.has("content-type"), false);
  assert.equal(await empty.text(), "");
  const noContent = forcedResponse(204, "dropped", {}, options());
  assert.equal(noContent.body, null);
});

Deno.test("forcedResponse() answers a 302 to tyk:// with Tyk's empty 200 and a warning", async () => {
  const opts = options();
  const response = forcedResponse(302, "x", { Location: "tyk://self/other" }, opts);
  assert.equal(response.status, 200);
  assert.equal(await response.text(), "");
  assert.ok(opts.log.lines.some((line) => line.msg.includes("tyk:// loops are not supported yet")));
});

Deno.test("forcedResponse() throws RangeError for a status a Response cannot carry", () => {
  for (const status of [-1, 99, 101, 600, 999]) {
    assert.throws(() => forcedResponse(status, "", {}, options()), RangeError);
  }
});
