/**
 * End to end: the plugin test runner, as `POST /tyk/plugins/test` on a real gateway and as
 * `deno task plugin-test` on the command line (offline), on Tyk's documented examples verbatim.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startGateway, type TestGateway } from "./support/gateway.ts";
import {
  CONFIG_DATA,
  RETURN_OVERRIDES,
  SAMPLE_MIDDLEWARE,
  SCRIPTING_GUIDE,
  SNAKE_CASE_OVERRIDES,
  SOME_CONDITION,
} from "./support/tyk_examples.ts";

const ROOT = new URL("../", import.meta.url).pathname;

const EDITS = `var edits = new TykJS.TykMiddleware.NewMiddleware({});
edits.NewProcessRequest(function (request, session, spec) {
  request.SetHeaders["X-Method"] = request.Method + " " + request.URL + " " + request.Headers["X-In"][0];
  request.DeleteHeaders.push("X-Old");
  request.AddParams["added"] = request.Params["q"][0];
  request.DeleteParams.push("q");
  request.Body = request.Body.toUpperCase();
  var meta = session.meta_data || {};
  meta.seen = "yes";
  return edits.ReturnData(request, meta);
});
`;

const AUTH = `var auth = new TykJS.TykMiddleware.NewMiddleware({});
auth.NewProcessRequest(function (request, session, spec) {
  return { Request: request, Session: { org_id: "acme", meta_data: { who: "js" } }, AuthValue: "k1" };
});
`;

const RESPONSE = `var res = new TykJS.TykMiddleware.NewMiddleware({});
res.NewProcessResponse(function (response, request, session, spec) {
  response.StatusCode = 201;
  response.SetHeaders["X-Seen"] = response.Headers["Content-Type"][0];
  response.Body = response.Body + "!";
  return res.ReturnResponseData(response, { note: "kept" });
});
`;

/** A runner answer, read field by field in the assertions. */
// deno-lint-ignore no-explicit-any
type Answer = Record<string, any>;

async function runnerCall(
  gw: TestGateway,
  body: unknown,
): Promise<{ status: number; json: Answer }> {
  const res = await gw.admin("/tyk/plugins/test", {
    method: "POST",
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

Deno.test("POST /tyk/plugins/test runs Tyk's examples and reports edits, logs, sessions and typed errors", async () => {
  const gw = await startGateway({ conf: { enable_jsvm: true, jsvm_timeout: 1 } });
  try {
    const unauthorised = await fetch(`${gw.url}/tyk/plugins/test`, { method: "POST", body: "{}" });
    assert.equal(unauthorised.status, 403);
    await unauthorised.body?.cancel();

    const sample = await runnerCall(gw, { code: SAMPLE_MIDDLEWARE, hook_type: "pre", org_id: "o" });
    assert.equal(sample.status, 200);
    assert.equal(sample.json.error, undefined);
    assert.deepEqual(sample.json.logs.map((l: { message: string }) => l.message), [
      "This middleware does nothing, but will print this to your terminal.",
    ]);
    assert.equal(sample.json.request_before.URL, "https://__sandbox__/");
    assert.equal(typeof sample.json.execution_ms, "number");

    const guide = await runnerCall(gw, { code: SCRIPTING_GUIDE, hook_type: "pre", org_id: "o" });
    assert.equal(
      guide.json.logs[0].message,
      "This middleware does nothing, but will print this to your terminal.",
    );

    const overrides = await runnerCall(gw, { code: RETURN_OVERRIDES, hook_type: "pre", org_id: "o" });
    assert.deepEqual(overrides.json.request_after.ReturnOverrides, {
      ResponseCode: 200,
      ResponseError: "Foobarbaz",
      ResponseBody: "Foobar",
      ResponseHeaders: { "X-Foo": "Bar", "X-Baz": "Qux" },
      OverrideError: false,
    });

    const snake = await runnerCall(gw, {
      code: SOME_CONDITION + SNAKE_CASE_OVERRIDES,
      hook_type: "pre",
      org_id: "o",
    });
    assert.deepEqual(snake.json.request_after.ReturnOverrides, {
      ResponseCode: 403,
      ResponseError: "",
      ResponseBody: "Access Denied",
      ResponseHeaders: { "X-Error": "the-condition" },
      OverrideError: false,
    }, "the documented snake_case keys");
    const undefinedCondition = await runnerCall(gw, {
      code: SNAKE_CASE_OVERRIDES,
      hook_type: "pre",
      org_id: "o",
    });
    assert.equal(undefinedCondition.json.error.type, "runtime");
    assert.match(undefinedCondition.json.error.message, /someCondition is not defined/);

    const config = await runnerCall(gw, {
      code: CONFIG_DATA,
      hook_type: "pre",
      org_id: "o",
      config_data: { foo: "bar" },
    });
    assert.deepEqual(config.json.request_after.SetHeaders, { "data-foo": "bar" });

    const edited = await runnerCall(gw, {
      code: EDITS,
      hook_type: "post",
      org_id: "o",
      request: {
        Method: "POST",
        Path: "/items",
        Headers: { "X-In": ["v"] },
        Body: "body",
        Params: { q: ["1"] },
      },
      session: { meta_data: { team: "blue" } },
    });
    assert.deepEqual(edited.json.request_after, {
      SetHeaders: { "X-Method": "POST https://__sandbox__/items?q=1 v" },
      DeleteHeaders: ["X-Old"],
      AddParams: { added: "1" },
      DeleteParams: ["q"],
      Body: "BODY",
      ReturnOverrides: {
        ResponseCode: 0,
        ResponseError: "",
        ResponseBody: "",
        ResponseHeaders: null,
        OverrideError: false,
      },
    });
    assert.deepEqual(edited.json.session_after, { team: "blue", seen: "yes" }, "post hooks get the session");
    const pre = await runnerCall(gw, {
      code: EDITS,
      hook_type: "pre",
      org_id: "o",
      request: { Headers: { "X-In": ["v"] }, Params: { q: ["1"] } },
      session: { meta_data: { team: "blue" } },
    });
    assert.equal(pre.json.session_after, undefined, "a pre hook gets an empty session and writes none");

    const auth = await runnerCall(gw, { code: AUTH, hook_type: "auth_check", org_id: "o" });
    assert.deepEqual(auth.json.session_after, { org_id: "acme", meta_data: { who: "js" } });

    const response = await runnerCall(gw, {
      code: RESPONSE,
      hook_type: "response",
      org_id: "o",
      response: { StatusCode: 200, Body: "hi", Headers: { "Content-Type": ["text/plain"] } },
    });
    assert.deepEqual(response.json.response_before, {
      StatusCode: 200,
      Body: "hi",
      Headers: { "Content-Type": ["text/plain"] },
    });
    assert.equal(response.json.response_after.StatusCode, 201);
    assert.equal(response.json.response_after.Body, "hi!");
    assert.deepEqual(response.json.response_after.SetHeaders, { "X-Seen": "text/plain" });
    assert.deepEqual(response.json.session_after, { note: "kept" });

    const errors: [string, string, RegExp][] = [
      ["var broken = ;", "syntax", /SyntaxError/],
      ["while (true) {}", "timeout", /1000 ms/],
      [
        `var t = new TykJS.TykMiddleware.NewMiddleware({});
t.NewProcessRequest(function () { while (true) {} });`,
        "timeout",
        /1000 ms/,
      ],
      [
        `var t = new TykJS.TykMiddleware.NewMiddleware({});
t.NewProcessRequest(function () { throw new Error("runtime trouble"); });`,
        "runtime",
        /runtime trouble/,
      ],
      ["var nothing = 1;", "runtime", /did not register a request or response handler/],
    ];
    for (const [code, type, message] of errors) {
      const failed = await runnerCall(gw, { code, hook_type: "pre", org_id: "o" });
      assert.equal(failed.status, 200, code);
      assert.equal(failed.json.error.type, type, code);
      assert.match(failed.json.error.message, message, code);
    }

    const invalid: [unknown, string][] = [
      ["{not json", "invalid request body: "],
      [[1], "invalid request body: "],
      [{ code: 5, hook_type: "pre", org_id: "o" }, "invalid request body: code must be a string"],
      [{ hook_type: "pre", org_id: "o" }, "code is required"],
      [
        { code: "x", hook_type: "preflight", org_id: "o" },
        "invalid hook_type: must be one of pre, post, post_key_auth, auth_check, response",
      ],
      [{ code: "x", hook_type: "pre" }, "org_id is required"],
      [{ code: "x", hook_type: "response", org_id: "o" }, "response is required for response hooks"],
      [{ code: "x", hook_type: "post", org_id: "o", session: { rate: "fast" } }, "invalid session JSON: "],
    ];
    for (const [body, message] of invalid) {
      const bad = await runnerCall(gw, body);
      assert.equal(bad.status, 400, JSON.stringify(body));
      assert.ok(bad.json.error.startsWith(message), `${bad.json.error} should start with ${message}`);
    }
  } finally {
    await gw.stop();
  }
});

/** Runs `deno task plugin-test` with `args`, offline, typed in `cwd` (the repository by default). */
async function cli(args: string[], cwd = ROOT): Promise<{ code: number; stdout: string; stderr: string }> {
  // as from a shell: `deno task test` sets INIT_CWD, and deno task keeps one that is set already
  const env = Deno.env.toObject();
  delete env.INIT_CWD;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", "--config", join(ROOT, "deno.json"), "plugin-test", ...args],
    cwd,
    clearEnv: true,
    env: { ...env, NO_COLOR: "1" },
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

Deno.test("deno task plugin-test prints the endpoint's JSON for Tyk's examples and exits 1 on a plugin error", async () => {
  const dir = await Deno.makeTempDir({ prefix: "portcullis-plugin-test-" });
  const gw = await startGateway({ conf: { enable_jsvm: true } });
  try {
    const file = (name: string, text: string) => {
      Deno.writeTextFileSync(join(dir, name), text);
      return join(dir, name);
    };
    const sample = file("sampleMiddleware.js", SAMPLE_MIDDLEWARE);
    const request = { Method: "POST", Path: "/items", Headers: { "X-In": ["v"] }, Body: "hello" };
    const requestFile = file("req.json", JSON.stringify(request));
    const configFile = file("c.json", JSON.stringify({ foo: "bar" }));
    const sessionFile = file("s.json", JSON.stringify({ meta_data: { team: "blue" } }));

    const ran = await cli([sample, "--hook", "pre", "--request", requestFile]);
    assert.equal(ran.code, 0, ran.stderr);
    const printed = JSON.parse(ran.stdout);
    const served = await runnerCall(gw, {
      code: SAMPLE_MIDDLEWARE,
      hook_type: "pre",
      org_id: "default",
      request,
    });
    const timeless = (result: Answer) => ({
      ...result,
      execution_ms: 0,
      logs: result.logs.map((l: Record<string, string>) => ({ ...l, time: "" })),
    });
    assert.deepEqual(timeless(printed), timeless(served.json), "the same JSON as the endpoint");
    const typedThere = await cli(["sampleMiddleware.js", "--hook", "pre", "--request", "req.json"], dir);
    assert.equal(typedThere.code, 0, typedThere.stderr);
    assert.deepEqual(
      timeless(JSON.parse(typedThere.stdout)),
      timeless(printed),
      "relative names are read from the folder the command was typed in",
    );

    const config = await cli([
      file("configData.js", CONFIG_DATA),
      "--hook",
      "post",
      "--config-data",
      configFile,
      "--session",
      sessionFile,
    ]);
    assert.equal(config.code, 0, config.stderr);
    assert.deepEqual(JSON.parse(config.stdout).request_after.SetHeaders, { "data-foo": "bar" });

    const overrides = await cli([file("overrides.js", RETURN_OVERRIDES), "--hook=pre"]);
    assert.equal(JSON.parse(overrides.stdout).request_after.ReturnOverrides.ResponseError, "Foobarbaz");

    const snake = await cli([file("snake.js", SOME_CONDITION + SNAKE_CASE_OVERRIDES), "--hook", "pre"]);
    assert.equal(snake.code, 0, snake.stderr);
    assert.equal(JSON.parse(snake.stdout).request_after.ReturnOverrides.ResponseBody, "Access Denied");
    const unset = await cli([file("unset.js", SNAKE_CASE_OVERRIDES), "--hook", "pre"]);
    assert.equal(unset.code, 1, "a plugin that throws");
    assert.equal(JSON.parse(unset.stdout).error.type, "runtime");

    const broken = await cli([file("broken.js", "var broken = ;"), "--hook", "pre"]);
    assert.equal(broken.code, 1);
    assert.equal(JSON.parse(broken.stdout).error.type, "syntax");

    const usage = await cli([sample, "--hook", "preflight"]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /invalid hook_type/);
    assert.equal((await cli([join(dir, "missing.js"), "--hook", "pre"])).code, 2);
  } finally {
    await gw.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
