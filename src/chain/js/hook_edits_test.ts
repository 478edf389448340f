import assert from "node:assert/strict";
import type { RequestCtx } from "../context.ts";
import { requestHookEdits, requestObject } from "../../jsvm/sandbox/request_hook.ts";
import { captureLog } from "../../capture_log.ts";
import { testCtx } from "../_test_ctx.ts";
import { applyHookEdits, type HookDecision, parseHookEdits } from "./hook_edits.ts";
import { hookRequest } from "./hook_request.ts";

const ENCODER = new TextEncoder();
const DECODER = new TextDecoder();
type JsRequest = Record<string, unknown> & { ReturnOverrides: Record<string, unknown> };

/**
 * Sends the request object through what Tyk's core JS does around a plugin (b64dec of Body as UTF-8,
 * the plugin's edits, Headers emptied, b64enc of Body), turns the result into edits as the sandbox does
 * and applies them as the gateway does.
 */
function runHook(
  ctx: RequestCtx,
  body: Uint8Array,
  plugin: (request: JsRequest) => void,
  options: { ignoreCanonical?: boolean } = {},
): { decision: HookDecision; log: ReturnType<typeof captureLog> } {
  const sent = JSON.parse(hookRequest(ctx, body, options.ignoreCanonical ?? false));
  const request = requestObject(sent) as JsRequest;
  request.Body = DECODER.decode(Uint8Array.fromBase64(String(request.Body)));
  plugin(request);
  request.Headers = {};
  request.Body = ENCODER.encode(String(request.Body)).toBase64();
  const edits = requestHookEdits(JSON.stringify({ Request: request, SessionMeta: {} }), sent);
  const log = captureLog();
  const decision = applyHookEdits(ctx, parseHookEdits(JSON.stringify(edits)), body, {
    log,
    logFields: { api_id: ctx.apiId },
  });
  return { decision, log };
}

const EMPTY = new Uint8Array(0);

Deno.test("applyHookEdits() forwards an untouched binary body byte for byte", () => {
  const binary = new Uint8Array([0xff, 0x00, 0x61, 0xfe, 0xc3]);
  const ctx = testCtx("http://gw/b", { method: "POST" }, binary);
  const { decision } = runHook(ctx, binary, (request) => {
    (request.SetHeaders as Record<string, string>)["X-Seen"] = "1";
  });
  assert.deepEqual(decision, { kind: "continue" });
  assert.equal(ctx.body, binary);
  assert.equal(ctx.headers.get("x-seen"), "1");

  const text = ENCODER.encode("héllo");
  const ctx2 = testCtx("http://gw/b", { method: "POST" }, text);
  runHook(ctx2, text, () => {});
  assert.equal(ctx2.body, text);
});

Deno.test("applyHookEdits() sends a changed body as UTF-8 and restores the original with IgnoreBody", () => {
  const original = ENCODER.encode("abc");
  const ctx = testCtx("http://gw/b", { method: "POST", headers: { "content-length": "3" } }, original);
  runHook(ctx, original, (request) => {
    request.Body = `${request.Body}-é`;
  });
  assert.deepEqual(ctx.body, ENCODER.encode("abc-é"));
  assert.equal(ctx.headers.get("content-length"), "6");

  const ctx2 = testCtx("http://gw/b", { method: "POST" }, original);
  runHook(ctx2, original, (request) => {
    request.Body = "ignored";
    request.IgnoreBody = true;
  });
  assert.equal(ctx2.body, original);

  const ctx3 = testCtx("http://gw/b", { method: "POST" }, original);
  runHook(ctx3, original, (request) => {
    request.Body = "";
  });
  assert.deepEqual(ctx3.body, EMPTY);
});

Deno.test("applyHookEdits() deletes headers before setting them, canonically, never Host", () => {
  const ctx = testCtx("http://gw:8080/h", {
    headers: { host: "gw:8080", "x-a": "old", "x-b": "b", "x-keep": "k" },
  });
  const { decision } = runHook(ctx, EMPTY, (request) => {
    request.DeleteHeaders = ["X-A", "x-B", "host", "bad name"];
    request.SetHeaders = { "x-a": "new", "x-engine-test": "t", host: "evil", "Content-Length": "99" };
  });
  assert.deepEqual(decision, { kind: "continue" });
  assert.equal(ctx.headers.get("x-a"), "new");
  assert.equal(ctx.headers.has("x-b"), false);
  assert.equal(ctx.headers.get("x-keep"), "k");
  assert.equal(ctx.headers.get("x-engine-test"), "t");
  assert.equal(ctx.headers.get("host"), "gw:8080");
  assert.equal(ctx.headers.has("content-length"), false);
});

Deno.test("applyHookEdits() deletes, sets, then appends params, re-encoding sorted only on change", () => {
  const ctx = testCtx("http://gw/p?z=1&b=2&b=3&drop=x&sp=a+b");
  runHook(ctx, EMPTY, (request) => {
    request.DeleteParams = ["drop"];
    request.AddParams = { b: "set", "new key": "v&w" };
    request.ExtendedParams = { b: ["more"], z: ["2", "3"] };
    (request.Params as Record<string, string[]>).ignored = ["edit"];
  });
  assert.equal(ctx.query, "b=set&b=more&new+key=v%26w&sp=a+b&z=1&z=2&z=3");

  const raw = "z=1&a=%7e&a=x+y&bad;pair";
  const unchanged = testCtx(`http://gw/p?${raw}`);
  runHook(unchanged, EMPTY, (request) => {
    request.DeleteParams = ["absent"];
    request.AddParams = { z: "1" };
  });
  assert.equal(unchanged.query, raw);
});

Deno.test("applyHookEdits() applies a new URL: relative replaces, absolute keeps path and query", () => {
  const ctx = testCtx("http://gw/listen/a?x=1");
  runHook(ctx, EMPTY, (request) => {
    request.URL = "/listen/b c?y=2";
  });
  assert.equal(ctx.path, "/listen/b%20c");
  assert.equal(ctx.query, "y=2");

  const absolute = testCtx("http://gw/listen/a?x=1");
  runHook(absolute, EMPTY, (request) => {
    request.URL = "https://elsewhere.example/other?q=%20";
    request.AddParams = { a: "1" };
  });
  assert.equal(absolute.path, "/other");
  assert.equal(absolute.query, "a=1&q=+");

  // a plugin adding a later lower-case key sets the URL (last key wins)
  const later = testCtx("http://gw/listen/a");
  runHook(later, EMPTY, (request) => {
    request.url = "/listen/late";
  });
  assert.equal(later.path, "/listen/late");
});

Deno.test("applyHookEdits() treats a tyk:// URL as a path and says loops are not supported", () => {
  const ctx = testCtx("http://gw/listen/a");
  const { log } = runHook(ctx, EMPTY, (request) => {
    request.URL = "tyk://self/other?method=POST";
  });
  assert.equal(ctx.path, "/other");
  assert.equal(ctx.query, "method=POST");
  assert.ok(
    log.lines.some((line) =>
      line.level === "warn" && line.msg.includes("tyk:// loops are not supported yet")
    ),
  );
});

Deno.test("applyHookEdits() stops after the body when the URL does not parse", () => {
  const ctx = testCtx("http://gw/listen/a?x=1", { method: "POST" }, ENCODER.encode("old"));
  const { decision } = runHook(ctx, ENCODER.encode("old"), (request) => {
    request.Body = "new";
    request.URL = "/bad%zz";
    request.SetHeaders = { "X-Set": "1" };
    request.AddParams = { y: "2" };
    request.ReturnOverrides.ResponseCode = 403;
  });
  assert.deepEqual(decision, { kind: "ignored" });
  assert.deepEqual(ctx.body, ENCODER.encode("new"));
  assert.equal(ctx.path, "/listen/a");
  assert.equal(ctx.query, "x=1");
  assert.equal(ctx.headers.has("x-set"), false);

  // an unchanged URL is left alone even when Go could not parse it
  const odd = testCtx("http://gw/listen/%zz");
  const { decision: kept } = runHook(odd, EMPTY, (request) => {
    request.SetHeaders = { "X-Set": "1" };
  });
  assert.deepEqual(kept, { kind: "continue" });
  assert.equal(odd.path, "/listen/%zz");
  assert.equal(odd.headers.get("x-set"), "1");
});

Deno.test("applyHookEdits() answers Tyk's ResponseError example with a 200 and its headers", () => {
  const { decision } = runHook(testCtx("http://gw/x"), EMPTY, (request) => {
    request.ReturnOverrides.ResponseError = "Foobarbaz";
    request.ReturnOverrides.ResponseBody = "Foobar";
    request.ReturnOverrides.ResponseCode = 200;
    request.ReturnOverrides.ResponseHeaders = { "X-Foo": "Bar", "X-Baz": "Qux" };
  });
  assert.deepEqual(decision, {
    kind: "respond",
    status: 200,
    body: "Foobarbaz",
    headers: { "X-Foo": "Bar", "X-Baz": "Qux" },
  });
});

Deno.test("applyHookEdits() turns Tyk's documented snake_case 403 example into Tyk's error path", () => {
  const { decision } = runHook(testCtx("http://gw/x"), EMPTY, (request) => {
    request.ReturnOverrides.response_code = 403;
    request.ReturnOverrides.response_body = "Access Denied";
    request.ReturnOverrides.headers = { "x-error": "the-condition" };
  });
  assert.deepEqual(decision, {
    kind: "error",
    status: 403,
    message: "Access Denied",
    headers: { "X-Error": "the-condition" },
  });
});

Deno.test("applyHookEdits() forces a >= 400 response with OverrideError and continues on code 0", () => {
  const { decision } = runHook(testCtx("http://gw/x"), EMPTY, (request) => {
    request.ReturnOverrides.ResponseCode = 401;
    request.ReturnOverrides.ResponseBody = '{"raw":true}';
    request.ReturnOverrides.OverrideError = true;
    request.ReturnOverrides.ResponseHeaders = { "x-lower": "1" };
  });
  assert.deepEqual(decision, {
    kind: "respond",
    status: 401,
    body: '{"raw":true}',
    headers: { "X-Lower": "1" },
  });

  const verbatim = runHook(testCtx("http://gw/x"), EMPTY, (request) => {
    request.ReturnOverrides.ResponseCode = 202;
    request.ReturnOverrides.ResponseHeaders = { "x-lower": "1" };
  }, { ignoreCanonical: true });
  assert.deepEqual(verbatim.decision, {
    kind: "respond",
    status: 202,
    body: "",
    headers: { "x-lower": "1" },
  });

  const none = runHook(testCtx("http://gw/x"), EMPTY, (request) => {
    request.ReturnOverrides.ResponseBody = "not used";
  });
  assert.deepEqual(none.decision, { kind: "continue" });
});

Deno.test("parseHookEdits() refuses what a misbehaving sandbox might send", () => {
  const good = {
    body: null,
    path: null,
    query: null,
    deleteHeaders: [],
    setHeaders: [["X-A", "1"]],
    decision: { kind: "continue" },
    warnings: [],
    sessionMeta: { a: "1" },
    session: null,
    authValue: "",
  };
  assert.deepEqual(parseHookEdits(JSON.stringify(good)), good);
  for (
    const bad of [
      { ...good, setHeaders: [["X-A"]] },
      { ...good, setHeaders: [["X-A", 1]] },
      { ...good, decision: { kind: "respond", status: "200", body: "", headers: {} } },
      { ...good, decision: { kind: "explode" } },
      { ...good, sessionMeta: { a: 1 } },
      { ...good, authValue: undefined },
      [],
    ]
  ) {
    assert.throws(() => parseHookEdits(JSON.stringify(bad)), /malformed edits/, JSON.stringify(bad));
  }
  assert.throws(() => parseHookEdits("not json"), SyntaxError);
});
