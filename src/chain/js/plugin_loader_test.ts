import assert from "node:assert/strict";
import { join } from "node:path";
import { captureLog } from "../../capture_log.ts";
import { testDefinition } from "../_test_ctx.ts";
import { collectPlugins, type HookEntry, undefinedNames } from "./plugin_loader.ts";
import { base64 } from "../../../tests/support/base64.ts";
import { withDir } from "../../../tests/support/temp_dir.ts";

async function write(path: string, text: string): Promise<void> {
  await Deno.mkdir(join(path, ".."), { recursive: true });
  await Deno.writeTextFile(path, text);
}

Deno.test("collectPlugins() returns no hooks and no warning for an API without JS", async () => {
  await withDir(async (dir) => {
    const log = captureLog();
    const found = await collectPlugins(testDefinition({}), {
      middlewarePath: join(dir, "mw"),
      baseDir: dir,
      log,
    });
    assert.deepEqual(found.hooks, { pre: [], authCheck: null, postKeyAuth: [], post: [], response: [] });
    assert.deepEqual(found.sources, []);
    assert.deepEqual(log.lines, []);
  });
});

Deno.test("collectPlugins() reads definition entries relative to baseDir, skipping disabled ones", async () => {
  await withDir(async (dir) => {
    await write(join(dir, "plugins/pre.js"), "var preMw = 1;");
    await write(join(dir, "plugins/both.js"), "var postA = 1; var postB = 2;");
    const def = testDefinition({
      custom_middleware: {
        driver: "javascript",
        pre: [{ name: "preMw", path: "plugins/pre.js" }, {
          name: "off",
          path: "plugins/off.js",
          disabled: true,
        }],
        post: [
          { name: "postA", path: join(dir, "plugins/both.js"), require_session: true },
          { name: "postB", path: "plugins/both.js" },
        ],
      },
    });
    const found = await collectPlugins(def, {
      middlewarePath: "middleware",
      baseDir: dir,
      log: captureLog(),
    });
    assert.equal(found.driver, "javascript");
    const pre = join(dir, "plugins/pre.js");
    const both = join(dir, "plugins/both.js");
    assert.deepEqual(found.hooks.pre, [{ name: "preMw", requireSession: false, source: pre }]);
    assert.deepEqual(found.hooks.post, [
      { name: "postA", requireSession: true, source: both },
      { name: "postB", requireSession: false, source: both },
    ]);
    assert.deepEqual(found.sources, [
      { file: pre, code: "var preMw = 1;", names: ["preMw"], kind: "middleware" },
      { file: both, code: "var postA = 1; var postB = 2;", names: ["postA", "postB"], kind: "middleware" },
    ]);
    assert.deepEqual(found.issues, []);
  });
});

Deno.test("collectPlugins() takes inline base64 code before path, for both drivers", async () => {
  await withDir(async (dir) => {
    for (const driver of ["otto", "javascript"]) {
      const def = testDefinition({
        custom_middleware: {
          driver,
          pre: [{ name: "inl", path: "does/not/exist.js", code: base64("var inl = 'é';") }],
          post: [{ name: "bad", code: "%%%" }],
        },
      });
      const found = await collectPlugins(def, { middlewarePath: "mw", baseDir: dir, log: captureLog() });
      assert.deepEqual(found.sources, [
        { file: "__inline__/api-1/pre/0/inl", code: "var inl = 'é';", names: ["inl"], kind: "middleware" },
      ]);
      assert.deepEqual(found.hooks.post, [{
        name: "bad",
        requireSession: false,
        source: "__inline__/api-1/post/0/bad",
      }]);
      assert.deepEqual(found.issues, [{
        file: "__inline__/api-1/post/0/bad",
        message: "Cannot load custom_middleware.post[0].code: not valid base64",
      }]);
    }
  });
});

Deno.test("collectPlugins() reports a missing file with its field and keeps the hook installed", async () => {
  await withDir(async (dir) => {
    const def = testDefinition({
      custom_middleware: {
        driver: "otto",
        pre: [{ name: "gone", path: "missing.js" }, { name: "txt", path: "a.txt" }],
      },
    });
    const found = await collectPlugins(def, { middlewarePath: "mw", baseDir: dir, log: captureLog() });
    assert.deepEqual(found.hooks.pre.map((h) => h.name), ["gone", "txt"]);
    assert.deepEqual(found.sources, []);
    assert.deepEqual(found.issues, [
      { file: join(dir, "missing.js"), message: "Cannot read custom_middleware.pre[0].path: no such file" },
      {
        file: join(dir, "a.txt"),
        message: "Cannot load custom_middleware.pre[1].path: the otto driver loads only .js files",
      },
    ]);
  });
});

Deno.test("collectPlugins() places directory-loader files around the definition's entries", async () => {
  await withDir(async (dir) => {
    const mw = join(dir, "mw", "api-1");
    await write(join(dir, "def.js"), "var defPre = 1, defPost = 1, defPka = 1, defAuth = 1;");
    await write(join(mw, "pre/b.js"), "var b;");
    await write(join(mw, "pre/a.plugin.js"), "var a;");
    await write(join(mw, "pre/ignored.txt"), "");
    await write(join(mw, "post/meta_with_session.js"), "var meta_with_session;");
    await write(join(mw, "post_auth/pa_with_session.js"), "var pa_with_session;");
    await write(join(mw, "auth/first.js"), "var first;");
    await write(join(mw, "auth/second.js"), "var second;");
    const def = testDefinition({
      custom_plugin_auth_enabled: true,
      custom_middleware: {
        driver: "otto",
        pre: [{ name: "defPre", path: "def.js" }],
        post: [{ name: "defPost", path: "def.js" }],
        post_key_auth: [{ name: "defPka", path: "def.js", require_session: true }],
        auth_check: { name: "defAuth", path: "def.js" },
      },
    });
    const found = await collectPlugins(def, { middlewarePath: "mw", baseDir: dir, log: captureLog() });
    const names = (list: { name: string; requireSession: boolean }[]) =>
      list.map((h) => `${h.name}:${h.requireSession}`);
    assert.deepEqual(names(found.hooks.pre), ["defPre:false", "a:false", "b:false"]);
    assert.deepEqual(names(found.hooks.postKeyAuth), ["pa_with_session:true", "defPka:true"]);
    assert.deepEqual(names(found.hooks.post), ["defPost:false", "meta_with_session:true"]);
    assert.equal(found.hooks.authCheck?.name, "second");
    assert.deepEqual(found.sources.map((s) => [s.file.slice(dir.length + 1), s.names]), [
      ["def.js", ["defPre", "defPost", "defPka"]],
      ["mw/api-1/pre/a.plugin.js", ["a"]],
      ["mw/api-1/pre/b.js", ["b"]],
      ["mw/api-1/auth/second.js", ["second"]],
      ["mw/api-1/post_auth/pa_with_session.js", ["pa_with_session"]],
      ["mw/api-1/post/meta_with_session.js", ["meta_with_session"]],
    ]);
  });
});

Deno.test("collectPlugins() installs auth_check only with a custom-auth flag and not disabled", async () => {
  await withDir(async (dir) => {
    await write(join(dir, "auth.js"), "var authMw;");
    const base = { driver: "otto", auth_check: { name: "authMw", path: "auth.js" } };
    const options = { middlewarePath: "mw", baseDir: dir, log: captureLog() };
    assert.equal(
      (await collectPlugins(testDefinition({ custom_middleware: base }), options)).hooks.authCheck,
      null,
    );
    const on = await collectPlugins(
      testDefinition({ custom_middleware: base, enable_coprocess_auth: true }),
      options,
    );
    assert.equal(on.hooks.authCheck?.name, "authMw");
    const off = testDefinition({
      custom_middleware: { ...base, auth_check: { ...base.auth_check, disabled: true } },
      custom_plugin_auth_enabled: true,
    });
    assert.equal((await collectPlugins(off, options)).hooks.authCheck, null);
  });
});

Deno.test("collectPlugins() runs JS without a driver as otto, with one warning", async () => {
  await withDir(async (dir) => {
    await write(join(dir, "mw/api-1/pre/dirMw.js"), "var dirMw;");
    const log = captureLog();
    const found = await collectPlugins(testDefinition({}), {
      middlewarePath: join(dir, "mw"),
      baseDir: dir,
      log,
    });
    assert.equal(found.driver, "otto");
    assert.equal(found.hooks.pre[0].name, "dirMw");
    assert.equal(log.lines.length, 1);
    assert.equal(log.lines[0].level, "warn");
    assert.match(
      log.lines[0].msg,
      /API "api-1": custom_middleware.driver is not set; running .*dirMw\.js with the otto driver/,
    );
  });
});

Deno.test("collectPlugins() skips JS for a non-JS driver, with a warning", async () => {
  await withDir(async (dir) => {
    await write(join(dir, "p.js"), "var p;");
    const log = captureLog();
    const def = testDefinition({
      custom_middleware: { driver: "python", pre: [{ name: "p", path: "p.js" }] },
    });
    const found = await collectPlugins(def, { middlewarePath: "mw", baseDir: dir, log });
    assert.deepEqual(found.hooks.pre, []);
    assert.deepEqual(found.sources, []);
    assert.match(log.lines[0].msg, /driver is "python", not a JS driver; skipping/);
  });
});

Deno.test("collectPlugins() re-reads plugin files on every call", async () => {
  await withDir(async (dir) => {
    const def = testDefinition({ custom_middleware: { driver: "otto" } });
    const options = { middlewarePath: "mw", baseDir: dir, log: captureLog() };
    assert.deepEqual((await collectPlugins(def, options)).hooks.post, []);
    await write(join(dir, "mw/api-1/post/late.js"), "var late = 1;");
    assert.equal((await collectPlugins(def, options)).sources[0].code, "var late = 1;");
    await Deno.writeTextFile(join(dir, "mw/api-1/post/late.js"), "var late = 2;");
    assert.equal((await collectPlugins(def, options)).sources[0].code, "var late = 2;");
  });
});

Deno.test("undefinedNames() reports hooks whose name no source mentions, per file under javascript", () => {
  const entry = (name: string, source: string): HookEntry => ({ name, requireSession: false, source });
  const hooks = {
    pre: [entry("inA", "a.js"), entry("inB", "a.js"), entry("ns.handler", "b.js"), entry("nowhere", "b.js")],
    authCheck: null,
    postKeyAuth: [entry("fromLibrary", "a.js")],
    post: [entry("unread", "gone.js")],
    response: [],
  };
  const sources = [
    { file: "a.js", code: "var inA = 1; // inAB is not inA", names: [], kind: "middleware" as const },
    { file: "b.js", code: "var ns = { handler: inB };", names: [], kind: "middleware" as const },
  ];
  const names = (driver: "otto" | "javascript") =>
    undefinedNames({ driver, hooks, sources }, "var fromLibrary;").map((issue) =>
      `${issue.file} ${issue.message}`
    );
  assert.deepEqual(names("otto"), [
    `b.js Cannot find "nowhere": b.js does not define it, so its hook answers 500`,
  ]);
  assert.deepEqual(names("javascript"), [
    `a.js Cannot find "inB": a.js does not define it, so its hook answers 500`,
    `b.js Cannot find "nowhere": b.js does not define it, so its hook answers 500`,
  ]);
});
