import assert from "node:assert/strict";
import { join } from "node:path";
import { GatewayError, MESSAGES } from "../errors.ts";
import { captureLog } from "../../capture_log.ts";
import { testCtx, testDefinition } from "../_test_ctx.ts";
import { createApiJs } from "./api_js.ts";
import { base64 } from "../../../tests/support/base64.ts";
import { withDir } from "../../../tests/support/temp_dir.ts";

const PRE = `log("dirPre loaded");
var dirPre = new TykJS.TykMiddleware.NewMiddleware({});
dirPre.NewProcessRequest(function (request, session, spec) {
  request.SetHeaders["X-Dir-Pre"] = String(spec.config_data);
  return dirPre.ReturnData(request, {});
});`;

const POST = `var inlinePost = new TykJS.TykMiddleware.NewMiddleware({});
inlinePost.NewProcessRequest(function (request, session, spec) {
  request.SetHeaders["X-Inline-Post"] = "yes";
  return inlinePost.ReturnData(request, {});
});`;

/** Runs `run` in a temporary folder holding the directory loader's `mw/api-1/pre/dirPre.js`. */
function withPluginDir(run: (dir: string) => Promise<void>): Promise<void> {
  return withDir(async (dir) => {
    await Deno.mkdir(join(dir, "mw/api-1/pre"), { recursive: true });
    await Deno.writeTextFile(join(dir, "mw/api-1/pre/dirPre.js"), PRE);
    await run(dir);
  });
}

function options(dir: string, enableJsvm = true) {
  return { enableJsvm, timeoutMs: 5000, poolSize: 1, middlewarePath: "mw", baseDir: dir, log: captureLog() };
}

const DEF = {
  custom_middleware: {
    driver: "javascript",
    post: [{ name: "inlinePost", code: base64(POST) }],
    post_key_auth: [{ name: "gone", path: "gone.js" }],
  },
};

Deno.test("createApiJs() returns null for an API without JS", async () => {
  await withPluginDir(async (dir) => {
    assert.equal(await createApiJs(testDefinition({ api_id: "no-js" }), options(dir)), null);
  });
});

Deno.test("createApiJs() builds steps from the definition and the directory loader, logging load issues", async () => {
  await withPluginDir(async (dir) => {
    const opts = options(dir);
    const js = await createApiJs(testDefinition(DEF), opts);
    assert.ok(js);
    try {
      assert.equal(js.authCheck, null);
      assert.ok(js.pre && js.post && js.postKeyAuth);
      assert.ok(!opts.log.lines.some((line) => line.msg === "dirPre loaded"), "no sandbox before a call");
      await js.start(); // booting the sandbox may take longer than a call's jsvm_timeout on a busy machine
      const ctx = testCtx("http://gw/a/x");
      assert.equal(await js.pre(ctx), undefined);
      assert.equal(await js.post(ctx), undefined);
      assert.equal(ctx.headers.get("x-dir-pre"), "null");
      assert.equal(ctx.headers.get("x-inline-post"), "yes");

      assert.ok(opts.log.lines.some((line) => line.msg === "dirPre loaded"), "the sandbox loaded the plugin");
      assert.deepEqual(js.issues.map((i) => i.file), [join(dir, "gone.js")]);
      const logged = opts.log.lines.find((line) => line.level === "error");
      assert.equal(logged?.fields?.api_id, "api-1");
      assert.equal(logged?.fields?.file, join(dir, "gone.js"));
      const missing = await js.postKeyAuth(testCtx("http://gw/a/x"));
      assert.ok(missing instanceof GatewayError);
      assert.equal(missing.status, 500);
      assert.equal(missing.message, MESSAGES.internal);
    } finally {
      await js.close();
      await js.close();
    }
  });
});

Deno.test("createApiJs() answers 500 middleware error without workers when enable_jsvm is false", async () => {
  await withPluginDir(async (dir) => {
    const opts = options(dir, false);
    const js = await createApiJs(testDefinition(DEF), opts);
    assert.ok(js);
    for (const step of [js.pre, js.postKeyAuth, js.post]) {
      const out = await step!(testCtx("http://gw/a/x"));
      assert.ok(out instanceof GatewayError);
      assert.equal(out.status, 500);
      assert.equal(out.message, MESSAGES.middlewareError);
    }
    assert.equal(js.authCheck, null);
    assert.ok(
      opts.log.lines.some((line) => line.level === "warn" && line.msg.includes("enable_jsvm is false")),
    );
    // a sandbox that started would have loaded dirPre.js, which logs as it loads
    assert.equal(opts.log.lines.filter((line) => line.msg === "dirPre loaded").length, 0);
    await js.close();
  });
});
