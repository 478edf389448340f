import assert from "node:assert/strict";
import { captureLog } from "../../capture_log.ts";
import { testCtx } from "../_test_ctx.ts";
import type { HookEntry } from "./plugin_loader.ts";
import type { SandboxPool } from "../../jsvm/host/sandbox_pool.ts";
import { mw, withPool } from "../../../tests/support/sandbox_pool.ts";
import { emptySession } from "../../keys/session.ts";
import { GatewayError, MESSAGES } from "../errors.ts";
import { buildSpecArgument, createJsAuthCheckStep, createJsHookStep, type JsHookApi } from "./hook_steps.ts";

const API: JsHookApi = {
  apiId: "api-1",
  orgId: "org-1",
  driver: "otto",
  configData: { flag: "on", b: 1, a: { z: 1, y: 2 } },
  configDataDisabled: false,
  ignoreCanonical: false,
};

/** A sandbox pool (real Workers) with one plugin file per entry of `plugins` (name → code), all loaded. */
function withHookPool(
  plugins: Record<string, string>,
  run: (pool: SandboxPool, entry: (name: string, requireSession?: boolean) => HookEntry) => Promise<void>,
  options: { timeoutMs?: number } = {},
): Promise<void> {
  const sources = Object.entries(plugins).map(([name, code]) => mw(`/plugins/${name}.js`, code, [name]));
  return withPool(
    { apiId: API.apiId, orgId: API.orgId, timeoutMs: options.timeoutMs ?? 5000, sources },
    async (pool) => {
      assert.deepEqual((await pool.load()).issues, []);
      await run(
        pool,
        (name, requireSession = false) => ({ name, requireSession, source: `/plugins/${name}.js` }),
      );
    },
  );
}

/** The source of a middleware `name` whose ProcessRequest body is `body` (ES5, as Tyk's documented plugins are written). */
function plugin(name: string, body: string): string {
  return `var ${name} = new TykJS.TykMiddleware.NewMiddleware({});
${name}.NewProcessRequest(function (request, session, spec) {
${body}
});`;
}

Deno.test("buildSpecArgument() sorts keys like Go and leaves config_data out when disabled", () => {
  assert.equal(
    buildSpecArgument(API),
    '{"APIID":"api-1","OrgID":"org-1","config_data":{"a":{"y":2,"z":1},"b":1,"flag":"on"}}',
  );
  assert.equal(
    buildSpecArgument({ ...API, configData: null }),
    '{"APIID":"api-1","OrgID":"org-1","config_data":null}',
  );
  assert.equal(buildSpecArgument({ ...API, configDataDisabled: true }), '{"APIID":"api-1","OrgID":"org-1"}');
});

Deno.test("createJsHookStep() returns null without entries", () => {
  assert.equal(createJsHookStep("pre", [], {} as SandboxPool, API, captureLog()), null);
});

Deno.test("createJsHookStep() runs pre hooks in order, each seeing the previous hook's edits", async () => {
  await withHookPool({
    first: plugin(
      "first",
      `request.SetHeaders["x-pre"] = spec.APIID + ":" + spec.config_data.flag + ":" + JSON.stringify(session);
  request.AddParams["step"] = "1";
  request.Body = request.Body + "+first";
  return first.ReturnData(request, {});`,
    ),
    second: plugin(
      "second",
      `request.SetHeaders["X-Second"] = request.Headers["X-Pre"][0] + "|" + request.Params["step"][0] + "|" + request.Body;
  return second.ReturnData(request, {});`,
    ),
  }, async (pool, entry) => {
    const log = captureLog();
    const step = createJsHookStep("pre", [entry("first"), entry("second")], pool, API, log)!;
    const ctx = testCtx("http://gw/a/x?q=1", { method: "POST", body: "body" });
    assert.equal(await step(ctx), undefined);
    assert.equal(ctx.headers.get("x-pre"), "api-1:on:{}");
    assert.equal(ctx.headers.get("x-second"), "api-1:on:{}|1|body+first");
    assert.equal(ctx.query, "q=1&step=1");
    assert.deepEqual(ctx.body, new TextEncoder().encode("body+first"));
    assert.deepEqual(log.lines, []);
  });
});

Deno.test("createJsHookStep() writes SessionMeta back for a post hook with require_session", async () => {
  await withHookPool({
    meta: plugin(
      "meta",
      `var next = { a: session.meta_data.a, b: "2", n: null };
  return meta.ReturnData(request, next);`,
    ),
    keep: plugin("keep", `return keep.ReturnData(request, session.meta_data);`),
    guard: plugin("guard", `return guard.ReturnData(request, session && session.meta_data);`),
  }, async (pool, entry) => {
    const step = createJsHookStep("post", [entry("meta", true)], pool, API, captureLog())!;
    const ctx = testCtx("http://gw/a/x");
    const session = { ...emptySession(), meta_data: { a: "1", old: "x" } };
    ctx.session = session;
    assert.equal(await step(ctx), undefined);
    assert.deepEqual(ctx.session.meta_data, { a: "1", b: "2", n: "" });
    assert.equal(ctx.sessionModified, true);
    assert.deepEqual(session.meta_data, { a: "1", old: "x" }, "the key store's object is not mutated");

    const same = createJsHookStep("post_key_auth", [entry("keep", true)], pool, API, captureLog())!;
    const unchanged = testCtx("http://gw/a/x");
    unchanged.session = { ...emptySession(), meta_data: { a: "1" } };
    assert.equal(await same(unchanged), undefined);
    assert.equal(unchanged.sessionModified, false);

    // keyless: the plugin receives null and nothing is written
    const keyless = testCtx("http://gw/a/x");
    const guarded = createJsHookStep("post", [entry("guard", true)], pool, API, captureLog())!;
    assert.equal(await guarded(keyless), undefined);
    assert.equal(keyless.sessionModified, false);
  });
});

Deno.test("createJsHookStep() rejects non-string SessionMeta values with a 500, as Go does", async () => {
  await withHookPool(
    { nums: plugin("nums", `return nums.ReturnData(request, { count: 5 });`) },
    async (pool, entry) => {
      const log = captureLog();
      const step = createJsHookStep("post", [entry("nums", true)], pool, API, log)!;
      const ctx = testCtx("http://gw/a/x");
      ctx.session = emptySession();
      const out = await step(ctx);
      assert.ok(out instanceof GatewayError);
      assert.equal(out.status, 500);
      assert.equal(log.lines[0].fields?.kind, "decode");
      assert.match(String(log.lines[0].fields?.error), /SessionMeta\["count"\]/);
    },
  );
});

Deno.test("createJsHookStep() answers 500 and logs when a plugin throws or returns nothing", async () => {
  await withHookPool({
    thrower: plugin("thrower", `throw new Error("boom");`),
    nothing: plugin("nothing", `return undefined;`),
  }, async (pool, entry) => {
    for (const name of ["thrower", "nothing", "notDefined"]) {
      const log = captureLog();
      const step = createJsHookStep("pre", [entry(name)], pool, API, log)!;
      const out = await step(testCtx("http://gw/a/x"));
      assert.ok(out instanceof GatewayError, name);
      assert.equal(out.status, 500);
      assert.equal(out.message, MESSAGES.internal);
      const line = log.lines.find((l) => l.level === "error");
      assert.ok(line, name);
      assert.equal(line.fields?.api_id, "api-1");
      assert.equal(line.fields?.hook, "pre");
      assert.equal(line.fields?.plugin, name);
      assert.ok(line.fields?.kind, name);
      assert.ok(line.fields?.at, name);
    }
  });
});

Deno.test("createJsHookStep() answers ReturnOverrides: forced response and Tyk's error path", async () => {
  await withHookPool({
    testJSVMData: plugin(
      "testJSVMData",
      `request.ReturnOverrides.ResponseError = "Foobarbaz";
  request.ReturnOverrides.ResponseBody = "Foobar";
  request.ReturnOverrides.ResponseCode = 200;
  request.ReturnOverrides.ResponseHeaders = { "X-Foo": "Bar", "X-Baz": "Qux" };
  return testJSVMData.ReturnData(request, {});`,
    ),
    deny: plugin(
      "deny",
      `request.ReturnOverrides.response_code = 403;
  request.ReturnOverrides.response_body = "Access Denied";
  request.ReturnOverrides.headers = { "X-Error": "the-condition" };
  return deny.ReturnData(request, session.meta_data);`,
    ),
  }, async (pool, entry) => {
    const forced = await createJsHookStep("pre", [entry("testJSVMData")], pool, API, captureLog())!(
      testCtx("http://gw/a"),
    );
    assert.ok(forced instanceof Response);
    assert.equal(forced.status, 200);
    assert.equal(await forced.text(), "Foobarbaz");
    assert.equal(forced.headers.get("x-foo"), "Bar");
    assert.equal(forced.headers.get("x-baz"), "Qux");
    assert.equal(forced.headers.get("server"), "tyk");

    const denied = await createJsHookStep("pre", [entry("deny")], pool, API, captureLog())!(
      testCtx("http://gw/a"),
    );
    assert.ok(denied instanceof GatewayError);
    assert.equal(denied.status, 403);
    assert.equal(denied.message, "Access Denied");
    assert.deepEqual(denied.headers, { "X-Error": "the-condition" });
  });
});

Deno.test("createJsAuthCheckStep() installs the returned session under AuthValue, or rejects", async () => {
  await withHookPool({
    authMw: plugin(
      "authMw",
      `if (request.Headers["Authorization"] && request.Headers["Authorization"][0] === "let-me-in") {
    return { Request: request, Session: { rate: 10, per: 1, meta_data: { user: "u1" } }, AuthValue: "key-1" };
  }
  request.ReturnOverrides.ResponseCode = 401;
  request.ReturnOverrides.ResponseError = "Not authorized (JS middleware)";
  return authMw.ReturnAuthData(request, {});`,
    ),
  }, async (pool, entry) => {
    const step = createJsAuthCheckStep(entry("authMw"), pool, API, captureLog());
    const ok = testCtx("http://gw/a", { headers: { authorization: "let-me-in" } });
    assert.equal(await step(ok), undefined);
    assert.equal(ok.sessionKey, "key-1");
    assert.equal(ok.sessionModified, true);
    assert.equal(ok.session?.rate, 10);
    assert.deepEqual(ok.session?.meta_data, { user: "u1" });

    const denied = testCtx("http://gw/a");
    const out = await step(denied);
    assert.ok(out instanceof GatewayError);
    assert.equal(out.status, 401);
    assert.equal(out.message, "Not authorized (JS middleware)");
    assert.equal(denied.session, null);

    const ignored = testCtx("http://gw/a");
    ignored.ignored = true;
    assert.equal(await step(ignored), undefined);
    assert.equal(ignored.session, null);

    const other = createJsAuthCheckStep(entry("authMw"), pool, API, captureLog(), { installSession: false });
    const kept = testCtx("http://gw/a", { headers: { authorization: "let-me-in" } });
    assert.equal(await other(kept), undefined);
    assert.equal(kept.session, null);
  });
});

Deno.test("createJsHookStep() forwards an untouched binary body byte for byte through the sandbox", async () => {
  await withHookPool({
    touch: plugin(
      "touch",
      `request.SetHeaders["X-Len"] = String(request.Body.length);
  return touch.ReturnData(request, {});`,
    ),
  }, async (pool, entry) => {
    const binary = new Uint8Array([0xff, 0xfe, 0x00, 0x41, 0xc3, 0x28, 0x80]);
    const ctx = testCtx("http://gw/a", { method: "POST" }, binary);
    assert.equal(await createJsHookStep("pre", [entry("touch")], pool, API, captureLog())!(ctx), undefined);
    assert.equal(ctx.headers.get("x-len"), "7");
    assert.deepEqual(ctx.body, binary);
  });
});

Deno.test("createJsHookStep() carries an 8 MB body to the plugin and back, edited or not", async () => {
  await withHookPool({
    keep: plugin(
      "keep",
      `request.SetHeaders["X-Len"] = String(request.Body.length);
  return keep.ReturnData(request, {});`,
    ),
    upper: plugin(
      "upper",
      `request.Body = request.Body.toUpperCase();
  return upper.ReturnData(request, {});`,
    ),
  }, async (pool, entry) => {
    const big = new TextEncoder().encode("abcdefgh".repeat(1024 * 1024));
    const kept = testCtx("http://gw/a", { method: "POST" }, big);
    assert.equal(await createJsHookStep("pre", [entry("keep")], pool, API, captureLog())!(kept), undefined);
    assert.equal(kept.headers.get("x-len"), String(big.length));
    assert.equal(kept.body, big); // the very bytes: nothing re-encoded
    const edited = testCtx("http://gw/a", { method: "POST" }, big);
    assert.equal(
      await createJsHookStep("pre", [entry("upper")], pool, API, captureLog())!(edited),
      undefined,
    );
    assert.equal(new TextDecoder().decode(edited.body as Uint8Array), "ABCDEFGH".repeat(1024 * 1024));
  });
});

Deno.test("createJsHookStep() calls each file's own handler under the javascript driver", async () => {
  const code = (tag: string) =>
    `var handler = new TykJS.TykMiddleware.NewMiddleware({});
handler.NewProcessRequest(function (request) {
  request.SetHeaders["X-${tag}"] = "${tag}";
  return handler.ReturnData(request, {});
});`;
  const sources = ["one", "two"].map((tag) => mw(`/plugins/${tag}.js`, code(tag), ["handler"]));
  await withPool(
    { apiId: API.apiId, orgId: API.orgId, driver: "javascript", timeoutMs: 5000, sources },
    async (pool) => {
      const entries = ["one", "two"].map((tag) => ({
        name: "handler",
        requireSession: false,
        source: `/plugins/${tag}.js`,
      }));
      const step = createJsHookStep("pre", entries, pool, { ...API, driver: "javascript" }, captureLog())!;
      const ctx = testCtx("http://gw/a");
      assert.equal(await step(ctx), undefined);
      assert.equal(ctx.headers.get("x-one"), "one");
      assert.equal(ctx.headers.get("x-two"), "two");
    },
  );
});

Deno.test("createJsHookStep() answers 500 when a plugin runs past jsvm_timeout", async () => {
  await withHookPool({ spin: plugin("spin", "while (true) {}") }, async (pool, entry) => {
    const log = captureLog();
    const out = await createJsHookStep("pre", [entry("spin")], pool, API, log)!(testCtx("http://gw/a"));
    assert.ok(out instanceof GatewayError);
    assert.equal(out.status, 500);
    assert.equal(log.lines.find((l) => l.level === "error")?.fields?.kind, "timeout");
  }, { timeoutMs: 300 });
});

Deno.test("createJsAuthCheckStep() rejects with Tyk's missing-session 400 when the returned URL does not parse", async () => {
  await withHookPool({
    badUrl: plugin(
      "badUrl",
      `request.URL = "/bad%zz";
  return { Request: request, Session: {}, AuthValue: "k" };`,
    ),
  }, async (pool, entry) => {
    const ctx = testCtx("http://gw/a");
    const out = await createJsAuthCheckStep(entry("badUrl"), pool, API, captureLog())(ctx);
    assert.ok(out instanceof GatewayError);
    assert.equal(out.status, 400);
    assert.equal(out.message, MESSAGES.sessionMissing);
    assert.equal(ctx.session, null);
  });
});
