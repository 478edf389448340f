import assert from "node:assert/strict";
import { evaluateScript } from "./_evaluate.ts";

Deno.test("evaluateScript() returns the completion value and names frames after the file", () => {
  assert.equal(evaluateScript("var evaluated = 20; evaluated + 1", "/plugins/a.js"), 21);
  try {
    evaluateScript("\n\nnull.x", "/plugins/b.js");
    assert.fail("expected a TypeError");
  } catch (error) {
    assert.match((error as Error).stack ?? "", /\/plugins\/b\.js:3:6/);
  }
});

Deno.test("evaluateScript() code cannot import(), not even through eval or Function", async () => {
  const data = '"data:text/javascript,export default 1"';
  for (
    const code of [
      `import(${data})`,
      `eval('import(' + ${JSON.stringify(data)} + ')')`,
      `new Function("return import(" + ${JSON.stringify(data)} + ")")()`,
    ]
  ) {
    await assert.rejects(
      evaluateScript(code, "/plugins/c.js") as Promise<unknown>,
      /dynamic import callback/,
      code,
    );
  }
});

Deno.test("evaluateScript() ignores options a plugin puts on Object.prototype", async () => {
  const proto = Object.prototype as Record<string, unknown>;
  proto.importModuleDynamically = () => ({ default: "hijacked" });
  try {
    await assert.rejects(
      evaluateScript('import("data:text/javascript,1")', "/p.js") as Promise<unknown>,
      /dynamic import callback/,
    );
  } finally {
    delete proto.importModuleDynamically;
  }
});
