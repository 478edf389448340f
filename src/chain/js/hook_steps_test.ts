import assert from "node:assert/strict";
import { captureLog } from "../../capture_log.ts";
import { testCtx } from "../_test_ctx.ts";
import type { HookEntry } from "./plugin_loader.ts";
import type { SandboxPool } from "../../jsvm/host/sandbox_pool.ts";
import { hostMarks, mw, withPool } from "../../../tests/support/sandbox_pool.ts";
import { emptySession } from "../../keys/session.ts";
import { GatewayError, MESSAGES } from "../errors.ts";
import {
  buildSpecArgument,
  createJsAuthCheckStep,
  createJsHookRunStep,
  createJsHookStep,
  type JsHookApi,
  type RequestHookKind,
} from "./hook_steps.ts";
import { Forced, type RequestCtx, type Step } from "../context.ts";

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

/** One API's hooks for the fused-against-unfused comparisons: stage → plugin names, in order. */
interface RunCase {
  name: string;
  plugins: Record<string, string>;
  stages: { kind: RequestHookKind; hooks: [name: string, requireSession: boolean][] }[];
  request: () => RequestCtx;
  /** Sandbox round trips with hooks fused. */
  fusedCalls: number;
  /** Sandbox round trips with one call per hook. @default every hook */
  unfusedCalls?: number;
  driver?: "otto" | "javascript";
}

/** What a request hook step left: its answer and every part of the request a hook may change. */
async function outcomeOf(step: Step, ctx: RequestCtx, log: ReturnType<typeof captureLog>) {
  let out = await step(ctx);
  if (out instanceof Forced) out = out.response;
  const answer = out === undefined
    ? "continue"
    : out instanceof GatewayError
    ? { status: out.status, message: out.message, headers: [...new Headers(out.headers ?? {})] }
    : { status: out.status, headers: [...out.headers], body: await out.text(), forced: true };
  return {
    answer,
    path: ctx.path,
    query: ctx.query,
    headers: [...ctx.headers],
    headerCase: [...ctx.headerCase ?? []],
    body: ctx.body instanceof Uint8Array ? [...ctx.body] : ctx.body,
    session: ctx.session,
    sessionKey: ctx.sessionKey,
    sessionModified: ctx.sessionModified,
    log: log.lines.map((line) => JSON.stringify(line)),
  };
}

/**
 * Runs each case's hooks on the same request twice, on a pool counting its round trips: as one step with
 * hooks fused, and with one call per hook. Both must leave exactly the same request and answer.
 */
async function assertSameFusedAndUnfused(cases: RunCase[]): Promise<void> {
  for (const c of cases) {
    const marks = hostMarks();
    const sources = Object.entries(c.plugins).map(([name, code]) => mw(`/plugins/${name}.js`, code, [name]));
    const driver = c.driver ?? "otto";
    await withPool(
      { apiId: API.apiId, orgId: API.orgId, timeoutMs: 5000, sources, driver, hostCalls: marks.hostCalls },
      async (pool) => {
        assert.deepEqual((await pool.load()).issues, [], c.name);
        let calls = 0;
        const counted: SandboxPool = {
          ...pool,
          callHook: (...args) => (calls++, pool.callHook(...args)),
          callHooks: (...args) => (calls++, pool.callHooks(...args)),
        };
        const stages = c.stages.map(({ kind, hooks }) => ({
          kind,
          entries: hooks.map(([name, requireSession]) => ({
            name,
            requireSession,
            source: `/plugins/${name}.js`,
          })),
        }));
        const api = { ...API, driver };
        const results = [];
        for (const fuse of [true, false]) {
          calls = 0;
          const ran = marks.count("post ran");
          const log = captureLog();
          // unfused: each stage's own step, as the chain has them with jsvm_fuse_hooks off
          const step: Step = fuse
            ? createJsHookRunStep(stages, counted, api, log)!
            : inOrder(stages.map(({ kind, entries }) =>
              kind === "auth_check"
                ? createJsAuthCheckStep(entries[0], counted, api, log)
                : createJsHookStep(kind, entries, counted, api, log, { fuse: false })!
            ));
          results.push({
            ...await outcomeOf(step, c.request(), log),
            calls,
            postRan: marks.count("post ran") - ran,
          });
        }
        const [fused, unfused] = results;
        assert.deepEqual({ ...fused, calls: 0 }, { ...unfused, calls: 0 }, c.name);
        assert.equal(fused.calls, c.fusedCalls, `${c.name}: round trips fused`);
        const every = c.stages.reduce((n, s) => n + s.hooks.length, 0);
        assert.equal(unfused.calls, c.unfusedCalls ?? every, `${c.name}: round trips unfused`);
      },
    );
  }
}

/** Steps run one after another, as the chain runs them: the first answer ends it. */
function inOrder(steps: Step[]): Step {
  return async (ctx) => {
    for (const step of steps) {
      const out = await step(ctx);
      if (out !== undefined) return out;
    }
    return undefined;
  };
}

/** A request with a body and a declared length. */
function postRequest(): RequestCtx {
  const headers = new Headers([["content-type", "text/plain"], ["content-length", "4"]]);
  return testCtx("http://gw/a/x?q=1&q=2", { method: "POST", body: "body", headers });
}

const REPORT = `request.SetHeaders["X-Seen"] = JSON.stringify({
    h: request.Headers, u: request.URL, p: request.Params, b: request.Body, s: session
  });`;

Deno.test("createJsHookRunStep() leaves the request as one call per hook would: edits carry from hook to hook", async () => {
  await assertSameFusedAndUnfused([{
    name: "edits carry through",
    plugins: {
      first: plugin(
        "first",
        `request.SetHeaders["X-Pre"] = "a b";
  request.DeleteHeaders.push("Content-Type");
  request.AddParams["step"] = "1";
  request.DeleteParams.push("q");
  request.URL = "/moved/path?q=9";
  request.Body = request.Body + "+first";
  leaked = "from first";
  return first.ReturnData(request, {});`,
      ),
      second: plugin("second", `${REPORT}\n  return second.ReturnData(request, {});`),
      third: plugin(
        "third",
        `request.SetHeaders["X-Third"] = typeof leaked + ":" + request.Headers["Content-Length"];
  request.ExtendedParams["e"] = ["1", "2"];
  request.Body = "";
  return third.ReturnData(request, {});`,
      ),
      fourth: plugin(
        "fourth",
        `${REPORT}\n  return fourth.ReturnData(request, session && session.meta_data);`,
      ),
    },
    stages: [
      { kind: "pre", hooks: [["first", false], ["second", false]] },
      { kind: "post", hooks: [["third", false], ["fourth", true]] },
    ],
    request: postRequest,
    fusedCalls: 1,
  }]);
});

Deno.test("createJsHookRunStep() stops where a separate call would: answers, errors, failures", async () => {
  const post = plugin(
    "post",
    `TykStorageGet("post ran");\n  ${REPORT}\n  return post.ReturnData(request, {});`,
  );
  const overrides = (name: string, code: number, extra: string) =>
    plugin(
      name,
      `request.SetHeaders["X-Before"] = "1";
  request.ReturnOverrides.ResponseCode = ${code};
  request.ReturnOverrides.ResponseBody = "answered by ${name}";
  ${extra}
  return ${name}.ReturnData(request, {});`,
    );
  const stages = (pre: string, after = "post"): RunCase["stages"] => [
    { kind: "pre", hooks: [[pre, false]] },
    { kind: "post", hooks: [[after, false]] },
  ];
  await assertSameFusedAndUnfused([
    {
      name: "a forced response from the first stops the second",
      plugins: {
        forced: overrides("forced", 200, `request.ReturnOverrides.ResponseHeaders = {"x-h": "v"};`),
        post,
      },
      stages: stages("forced"),
      request: postRequest,
      fusedCalls: 1,
      unfusedCalls: 1,
    },
    {
      name: "an error from the first stops the second",
      plugins: { denied: overrides("denied", 403, ""), post },
      stages: stages("denied"),
      request: postRequest,
      fusedCalls: 1,
      unfusedCalls: 1,
    },
    {
      name: "the first throws",
      plugins: { thrower: plugin("thrower", `throw new Error("no");`), post },
      stages: stages("thrower"),
      request: postRequest,
      fusedCalls: 1,
      unfusedCalls: 1,
    },
    {
      name: "the first returns nothing Go can decode",
      plugins: { nothing: plugin("nothing", `return undefined;`), post },
      stages: stages("nothing"),
      request: postRequest,
      fusedCalls: 1,
      unfusedCalls: 1,
    },
    {
      name: "the second throws after the first edited the request",
      plugins: {
        edit: plugin("edit", `request.SetHeaders["X-Edit"] = "1";\n  return edit.ReturnData(request, {});`),
        thrower: plugin("thrower", `throw new Error("late");`),
      },
      stages: stages("edit", "thrower"),
      request: postRequest,
      fusedCalls: 1,
    },
    {
      name: "an unparsable URL skips the rest of the first's edits, and the second runs",
      plugins: {
        badUrl: plugin(
          "badUrl",
          `request.URL = "http://[::1";\n  request.SetHeaders["X-Lost"] = "1";\n  request.Body = "kept";
  return badUrl.ReturnData(request, {});`,
        ),
        post,
      },
      stages: stages("badUrl"),
      request: postRequest,
      fusedCalls: 1,
    },
  ]);
});

Deno.test("createJsHookRunStep() sends the rest in a call of its own where the sandbox cannot tell the request", async () => {
  await assertSameFusedAndUnfused([{
    // a set value that matches the lines the client sent goes on as those lines, which only the gateway knows
    name: "a joined header value",
    plugins: {
      join: plugin("join", `request.SetHeaders["X-Multi"] = "1, 2";\n  return join.ReturnData(request, {});`),
      post: plugin("post", `${REPORT}\n  return post.ReturnData(request, {});`),
    },
    stages: [{ kind: "pre", hooks: [["join", false]] }, { kind: "post", hooks: [["post", false]] }],
    request: () => {
      const ctx = postRequest();
      ctx.request.headers.append("x-multi", "1");
      ctx.request.headers.append("x-multi", "2");
      ctx.headers.set("x-multi", "1, 2");
      return ctx;
    },
    fusedCalls: 2,
  }, {
    name: "a value Fetch trims",
    plugins: {
      pad: plugin("pad", `request.SetHeaders["X-Pad"] = " padded ";\n  return pad.ReturnData(request, {});`),
      post: plugin("post", `${REPORT}\n  return post.ReturnData(request, {});`),
    },
    stages: [{ kind: "pre", hooks: [["pad", false]] }, { kind: "post", hooks: [["post", false]] }],
    request: postRequest,
    fusedCalls: 2,
  }]);
});

Deno.test("createJsHookRunStep() carries session meta data from hook to hook as separate calls do", async () => {
  const withSession = () => {
    const ctx = postRequest();
    ctx.session = { ...emptySession(), meta_data: { a: "0", keep: "k" } };
    return ctx;
  };
  await assertSameFusedAndUnfused([{
    name: "meta data written by one hook reaches the next that reads the session",
    plugins: {
      writer: plugin(
        "writer",
        `return writer.ReturnData(request, { a: "1", keep: session.meta_data.keep });`,
      ),
      blind: plugin("blind", `${REPORT}\n  return blind.ReturnData(request, { ignored: "x" });`),
      reader: plugin(
        "reader",
        `request.SetHeaders["X-A"] = session.meta_data.a;
  return reader.ReturnData(request, { a: session.meta_data.a + "+2", keep: "k" });`,
      ),
    },
    // the reader needs the session the writer left, so it is sent in a second call
    stages: [{ kind: "post_key_auth", hooks: [["writer", true], ["blind", false], ["reader", true]] }],
    request: withSession,
    fusedCalls: 2,
  }]);
});

Deno.test("createJsHookRunStep() runs async handlers under driver javascript one after another", async () => {
  const asyncPlugin = (name: string, body: string) =>
    `var ${name} = new TykJS.TykMiddleware.NewMiddleware({});
${name}.NewProcessRequest(async function (request, session, spec) {
  await Promise.resolve();
  ${body}
  return ${name}.ReturnData(request, {});
});`;
  await assertSameFusedAndUnfused([{
    name: "async pre and post",
    driver: "javascript",
    plugins: {
      early: asyncPlugin("early", `request.SetHeaders["X-Early"] = "1"; globalThis.leaked = 1;`),
      late: asyncPlugin("late", `${REPORT}\n  request.SetHeaders["X-Leak"] = typeof globalThis.leaked;`),
    },
    stages: [{ kind: "pre", hooks: [["early", false]] }, { kind: "post", hooks: [["late", false]] }],
    request: postRequest,
    fusedCalls: 1,
  }]);
});

Deno.test("createJsHookRunStep() runs a JS auth_check and the post_key_auth hooks as separate steps would", async () => {
  const auth = (name: string, body: string) =>
    plugin(
      name,
      `${body}
  return ${name}.ReturnData(request, { from: "auth" });`,
    );
  const pka = plugin("pka", `TykStorageGet("post ran");\n  ${REPORT}\n  return pka.ReturnData(request, {});`);
  const reader = plugin(
    "reader",
    `request.SetHeaders["X-Who"] = session.meta_data.who;\n  return reader.ReturnData(request, { who: "reader" });`,
  );
  const accepting = (name: string) =>
    `var ${name} = new TykJS.TykMiddleware.NewMiddleware({});
${name}.NewProcessRequest(function (request, session, spec) {
  request.SetHeaders["X-Auth"] = "ok";
  var session = { rate: 10, per: 1, quota_max: -1, meta_data: { who: "js" } };
  return { Request: request, Session: session, AuthValue: "key-1" };
});`;
  const stages = (first: string, rest: [string, boolean][]): RunCase["stages"] => [
    { kind: "auth_check", hooks: [[first, false]] },
    { kind: "post_key_auth", hooks: rest },
  ];
  await assertSameFusedAndUnfused([
    {
      name: "accepted: the session is installed and reaches a later hook that reads it",
      plugins: { authOk: accepting("authOk"), pka, reader },
      stages: stages("authOk", [["pka", false], ["reader", true]]),
      request: postRequest,
      fusedCalls: 2,
    },
    {
      name: "accepted, and no hook after it reads the session",
      plugins: { authOk: accepting("authOk"), pka },
      stages: stages("authOk", [["pka", false]]),
      request: postRequest,
      fusedCalls: 1,
    },
    {
      name: "rejected through ReturnOverrides",
      plugins: {
        authNo: auth(
          "authNo",
          `request.ReturnOverrides.ResponseCode = 403;\n  request.ReturnOverrides.ResponseError = "no";`,
        ),
        pka,
      },
      stages: stages("authNo", [["pka", false]]),
      request: postRequest,
      fusedCalls: 1,
      unfusedCalls: 1,
    },
    {
      name: "an unparsable URL: Tyk installs no session, and the request is refused",
      plugins: { authBad: auth("authBad", `request.URL = "http://[::1";`), pka },
      stages: stages("authBad", [["pka", false]]),
      request: postRequest,
      fusedCalls: 1,
      unfusedCalls: 1,
    },
    {
      name: "an endpoint marked ignored skips the auth_check",
      plugins: { authOk: accepting("authOk"), pka },
      stages: stages("authOk", [["pka", false]]),
      request: () => {
        const ctx = postRequest();
        ctx.ignored = true;
        return ctx;
      },
      fusedCalls: 1,
      unfusedCalls: 1,
    },
  ]);
});
