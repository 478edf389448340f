import assert from "node:assert/strict";
import { captureLog } from "../capture_log.ts";
import { emptySession } from "../keys/session.ts";
import { testCtx, testDefinition } from "./_test_ctx.ts";
import { currentUrl, type RequestCtx } from "./context.ts";
import { createUrlRewrite } from "./url_rewrite.ts";

function rewriting(entries: Record<string, unknown>[]) {
  const log = captureLog();
  const step = createUrlRewrite(
    testDefinition({
      version_data: {
        not_versioned: true,
        versions: { Default: { extended_paths: { url_rewrites: entries } } },
      },
    }),
    { log },
  );
  return { step: step!, log };
}

async function rewritten(
  entry: Record<string, unknown>,
  url: string,
  init: (ctx: RequestCtx) => void = () => {},
) {
  const { step } = rewriting([{ path: "/", method: "GET", ...entry }]);
  const ctx = testCtx(`http://gw${url}`);
  init(ctx);
  assert.equal(await step(ctx), undefined);
  return currentUrl(ctx);
}

// The cases of Tyk's TestRewriter (pattern, rewrite_to, request URL, URL after the rewrite)
const TYK_CASES: [string, string, string, string][] = [
  ["/test/straight/rewrite", "/change/to/me", "/test/straight/rewrite", "/change/to/me"],
  ["test/val/(.*)", "change/to/$1", "/test/val/VALUE", "change/to/VALUE"],
  [
    "/test/val/(.*)/space/(.*)/and/then/(.*)",
    "/change/to/$1/$2/$3",
    "/test/val/ONE/space/TWO/and/then/THREE",
    "/change/to/ONE/TWO/THREE",
  ],
  [
    "/test/val/(.*)/space/(.*)/and/then/(.*)",
    "/change/to/$3/$2/$1",
    "/test/val/ONE/space/TWO/and/then/THREE",
    "/change/to/THREE/TWO/ONE",
  ],
  [
    "/test/val/(.*)/space/(.*)/and/then/(.*)",
    "/change/to/$1/$2",
    "/test/val/ONE/space/TWO/and/then/THREE",
    "/change/to/ONE/TWO",
  ],
  ["(.*)", "$1&newParam=that", "/foo/bar?param1=this", "/foo/bar?param1=this&newParam=that"],
  [
    "/test/val/(.*)/space/(.*)/and/then(.*)",
    "/change/to/$2/$1$3",
    "/test/val/ONE/space/TWO/and/then?param1=this",
    "/change/to/TWO/ONE?param1=this",
  ],
  ["/test/payment-intents", "/change/to/me", "/test/payment%2Dintents", "/change/to/me"],
  ["^(.+)%2[Dd](.+)$", "/change/to/me", "/test/payment%2Dintents", "/change/to/me"],
];

Deno.test("createUrlRewrite() rewrites as Tyk's TestRewriter expects", async () => {
  for (const [match_pattern, rewrite_to, url, want] of TYK_CASES) {
    assert.equal(await rewritten({ match_pattern, rewrite_to }, url), want, match_pattern);
  }
});

Deno.test("createUrlRewrite() leaves the URL alone when the pattern does not match or the method differs", async () => {
  assert.equal(await rewritten({ match_pattern: "/nope", rewrite_to: "/x" }, "/a/b?c=1"), "/a/b?c=1");
  const { step } = rewriting([{ path: "/", method: "POST", match_pattern: ".*", rewrite_to: "/x" }]);
  const ctx = testCtx("http://gw/a");
  await step(ctx);
  assert.equal(ctx.path, "/a");
});

Deno.test("createUrlRewrite() escapes the new path as Go does and keeps a tyk:// target's path, with a warning", async () => {
  assert.equal(await rewritten({ match_pattern: "/v/(.*)", rewrite_to: "/to/$1 x" }, "/v/1"), "/to/1%20x");
  const { step, log } = rewriting([{
    path: "/",
    method: "GET",
    match_pattern: "(.*)",
    rewrite_to: "tyk://self$1",
  }]);
  const ctx = testCtx("http://gw/loop/me");
  await step(ctx);
  assert.equal(ctx.path, "/loop/me");
  assert.match(
    log.lines.map((line) => line.msg).join("\n"),
    /url_rewrites\[0\]: rewrite_to "tyk:\/\/self\$1"/,
  );
});

Deno.test("createUrlRewrite() triggers: header, query, path part and session meta matches fill $tyk_context", async () => {
  const trigger = (on: string, options: Record<string, unknown>, rewrite_to: string) => ({
    on,
    options,
    rewrite_to,
  });
  const header = (value: string) => (ctx: RequestCtx) => ctx.headers.set("x-test", value);
  assert.equal(
    await rewritten(
      {
        match_pattern: "/test",
        rewrite_to: "/ignore",
        triggers: [
          trigger(
            "any",
            { header_matches: { "x-test": { match_rx: "hello-(\\w+)" } } },
            "/to/$tyk_context.trigger-0-X-Test-0-0",
          ),
        ],
      },
      "/test",
      header("hello-world"),
    ),
    "/to/world",
  );
  const all = {
    match_pattern: "/test",
    rewrite_to: "/ignore",
    triggers: [trigger("all", {
      query_val_matches: { x_test: { match_rx: "foo" } },
      header_matches: { "y-test": { match_rx: "bar" } },
    }, "/to/$tyk_context.trigger-0-Y-Test-0")],
  };
  assert.equal(
    await rewritten(all, "/test?x_test=foo", (ctx) => ctx.headers.set("y-test", "bar")),
    "/to/bar",
  );
  assert.equal(
    await rewritten(all, "/test?x_test=nope", (ctx) => ctx.headers.set("y-test", "bar")),
    "/ignore",
  );
  assert.equal(
    await rewritten({
      match_pattern: "/test/(.*)",
      rewrite_to: "/ignore",
      triggers: [
        trigger(
          "any",
          { path_part_matches: { pathpart: { match_rx: "foo" } } },
          "/to/$tyk_context.trigger-0-pathpart-0/$1",
        ),
      ],
    }, "/test/foo/rewrite"),
    "/to/foo/foo/rewrite",
  );
  const session = (ctx: RequestCtx) =>
    ctx.session = { ...emptySession(), meta_data: { rewrite: "bar-baz", somevar: "a b" } };
  assert.equal(
    await rewritten(
      {
        match_pattern: "/test",
        rewrite_to: "/ignore",
        triggers: [
          trigger(
            "any",
            { session_meta_matches: { rewrite: { match_rx: "bar-(\\w+)" } } },
            "/to/$tyk_context.trigger-0-rewrite-0/$tyk_meta.somevar/$tyk_meta.none",
          ),
        ],
      },
      "/test",
      session,
    ),
    "/to/baz/a+b/",
  );
  assert.equal(
    await rewritten(
      {
        match_pattern: "/test",
        rewrite_to: "/ignore",
        triggers: [
          trigger("any", { header_matches: { "x-test": { match_rx: "w.*", reverse: true } } }, "/reversed"),
        ],
      },
      "/test",
      header("hello"),
    ),
    "/reversed",
  );
});

Deno.test("createUrlRewrite() is null without enabled entries and reports a pattern JavaScript cannot compile", () => {
  assert.equal(
    rewriting([{ path: "/", method: "GET", match_pattern: "x", rewrite_to: "/y", disabled: true }]).step,
    null,
  );
  const { step, log } = rewriting([
    { path: "/", method: "GET", match_pattern: "(unclosed", rewrite_to: "/y" },
    { path: "/", method: "GET", match_pattern: "ok", rewrite_to: "/y" },
  ]);
  assert.ok(step);
  assert.match(log.lines[0].msg, /url_rewrites\[0\]\.match_pattern of API "api-1"/);
});
