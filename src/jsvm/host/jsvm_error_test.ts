import assert from "node:assert/strict";
import { failureError, JsvmError } from "./jsvm_error.ts";

Deno.test("failureError() reads the sandbox's failure, keeping missing and decode and the plugin's file:line", () => {
  const missing = failureError(JSON.stringify({ kind: "missing", message: '"pre" is not defined' }));
  assert.ok(missing instanceof JsvmError);
  assert.deepEqual([missing.kind, missing.message, missing.file], [
    "missing",
    '"pre" is not defined',
    undefined,
  ]);
  const threw = failureError(
    JSON.stringify({ kind: "threw", message: "boom", file: "plugins/a.js", line: 3 }),
  );
  assert.deepEqual([threw.kind, threw.message, threw.file, threw.line], ["threw", "boom", "plugins/a.js", 3]);
  assert.equal(failureError(JSON.stringify({ kind: "decode", message: "x" })).kind, "decode");
});

Deno.test("failureError() reads any other kind as threw, and unreadable text as a failure of its own", () => {
  // a sandbox cannot claim a timeout or a crash: the host decides those
  assert.equal(failureError(JSON.stringify({ kind: "timeout", message: "x" })).kind, "threw");
  const garbled = failureError("{not json");
  assert.deepEqual([garbled.kind, garbled.message], ["threw", "JS sandbox sent an unreadable failure"]);
});
