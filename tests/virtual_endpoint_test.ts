/** End to end: JS virtual endpoints through the real gateway process, real Workers and a real upstream. */
import assert from "node:assert/strict";
import { defaultVersion, keylessApi, startGateway, tokenApi, withPlugins } from "./support/gateway.ts";
import { statusOf } from "./support/http.ts";
import { startUpstream } from "./support/upstream.ts";
import { base64 } from "./support/base64.ts";

const VE_ERROR =
  '{\n    "error": "Error during virtual endpoint execution. Contact Administrator for more details."\n}';

// Tyk's documented responseObject (`code`, `headers`, `body`) and their return line, verbatim
const SEED_HANDLER = `function myVirtualHandler (request, session, config) {
  var responseObject = {
    body: "THIS IS A VIRTUAL RESPONSE",
    headers: {
      "x-test": "virtual-header",
      "x-test-2": "virtual-header-2"
    },
    code: 200
  }
  return TykJsResponse(responseObject, session.meta_data);
}
`;

const HANDLERS = `function echoRequest(request, session, config) {
  return TykJsResponse({
    Body: JSON.stringify({ keys: Object.keys(request), request: request, config: config }),
    Headers: { "Content-Type": "application/json", "X-Mode": "echo" },
    Code: 201
  }, {});
}
function thrower(request, session, config) { throw new Error("virtual endpoint blew up"); }
function badHeader(request, session, config) {
  return TykJsResponse({ Body: "x", Headers: { "X-Count": 5 }, Code: 200 }, {});
}
function spin(request, session, config) { while (true) {} }
function counted(request, session, config) {
  var n = TykStorageIncr("ve-" + request.URL, 0);
  return TykJsResponse({ Body: "call " + n, Headers: {}, Code: request.URL.indexOf("/fail") !== -1 ? 500 : 200 }, {});
}
function peek(request, session, config) {
  return TykJsResponse({ Body: JSON.stringify(session), Code: 200 }, { replaced: "yes" });
}
function withMeta(request, session, config) {
  var meta = session.meta_data;
  meta.count = (meta.count || 0) + 1;
  meta.nested = { seen: true, list: [1, "two"] };
  return TykJsResponse({ Body: "count " + meta.count, Code: 200 }, meta);
}
`;

const POST_HOOK = `var postHook = new TykJS.TykMiddleware.NewMiddleware({});
postHook.NewProcessRequest(function (request, session, spec) {
  request.ReturnOverrides.ResponseCode = 418;
  request.ReturnOverrides.ResponseError = "the post hook ran";
  return postHook.ReturnData(request, {});
});
`;

/** A keyless API whose Default version has these virtual endpoints. */
function veApi(apiId: string, listenPath: string, target: string, virtual: unknown[], extra = {}) {
  return keylessApi(apiId, listenPath, target, { ...defaultVersion({ virtual }), ...extra });
}

function ve(path: string, fn: string, extra: Record<string, unknown> = {}) {
  return {
    path,
    method: "GET",
    response_function_name: fn,
    function_source_type: "file",
    function_source_uri: "plugins/handlers.js",
    ...extra,
  };
}

Deno.test("virtual endpoints answer from JS: Tyk's example, request object, errors, drivers", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({
    conf: { enable_jsvm: true, jsvm_timeout: 1 },
    files: {
      "plugins/seed.js": SEED_HANDLER,
      "plugins/handlers.js": HANDLERS,
      "plugins/postHook.js": POST_HOOK,
    },
    apps: {
      // no custom_middleware section at all: otto by default
      "seed.json": veApi("seed", "/seed/", upstream.url, [
        ve("/hello", "myVirtualHandler", { function_source_uri: "plugins/seed.js" }),
      ]),
      "goja.json": veApi("goja", "/goja/", upstream.url, [
        ve("/hello", "myVirtualHandler", {
          function_source_type: "blob",
          function_source_uri: base64(SEED_HANDLER),
        }),
      ], { custom_middleware: { driver: "javascript" } }),
      "many.json": veApi("many", "/many/", upstream.url, [
        ve("/echo", "echoRequest", { method: "POST" }),
        ve("/throw", "thrower"),
        ve("/proxied", "thrower", { proxy_on_error: true }),
        ve("/bad-header", "badHeader"),
        ve("/spin", "spin"),
        ve("/missing-file", "nothing", { function_source_uri: "plugins/none.js" }),
        ve("/bad-blob", "nothing", { function_source_type: "blob", function_source_uri: "%%%" }),
        ve("/unknown-type", "nothing", { function_source_type: "url" }),
      ], { config_data: { foo: "bar" } }),
      "post.json": withPlugins(
        veApi("post", "/post/", upstream.url, [ve("/hello", "myVirtualHandler", {
          function_source_uri: "plugins/seed.js",
        })]),
        { post: [{ name: "postHook", path: "plugins/postHook.js" }] },
      ),
    },
  });
  try {
    for (const prefix of ["seed", "goja"]) {
      const res = await fetch(`${gw.url}/${prefix}/hello`);
      assert.equal(res.status, 200, prefix);
      assert.equal(await res.text(), "THIS IS A VIRTUAL RESPONSE");
      assert.equal(res.headers.get("x-test"), "virtual-header");
      assert.equal(res.headers.get("x-test-2"), "virtual-header-2");
      assert.equal(res.headers.get("server"), "tyk");
      assert.equal(res.headers.get("content-type"), "text/plain; charset=utf-8", "sniffed as Go does");
      assert.ok(res.headers.get("date"));
      for (const name of ["x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"]) {
        assert.equal(res.headers.get(name), "0", `${prefix}: ${name} on a keyless API`);
      }
    }
    assert.equal(upstream.count(), 0, "answered without the upstream");
    assert.equal(await statusOf(fetch(`${gw.url}/seed/hello`, { method: "POST" })), 200);
    assert.equal(upstream.count(), 1, "another method is proxied");

    const echo = await fetch(`${gw.url}/many/echo?a=1&b=2`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "x-custom": "yes" },
      body: "a=0&c=3",
    });
    assert.equal(echo.status, 201);
    assert.equal(echo.headers.get("content-type"), "application/json", "its own Content-Type is kept");
    assert.equal(echo.headers.get("x-mode"), "echo");
    const seen = await echo.json();
    assert.deepEqual(seen.keys, ["Headers", "Body", "URL", "Params", "Scheme"]);
    assert.equal(seen.request.Body, "a=0&c=3");
    assert.equal(seen.request.URL, "/many/echo?a=1&b=2");
    assert.deepEqual(seen.request.Params, { a: ["0", "1"], b: ["2"], c: ["3"] }, "form values first");
    assert.equal(seen.request.Scheme, "http");
    assert.deepEqual(seen.request.Headers["X-Custom"], ["yes"]);
    assert.equal(seen.request.Headers.Host, undefined, "no Host entry");
    assert.deepEqual(seen.config, { APIID: "many", OrgID: "default", config_data: { foo: "bar" } });

    for (const path of ["throw", "bad-header", "missing-file", "bad-blob", "unknown-type"]) {
      const res = await fetch(`${gw.url}/many/${path}`);
      assert.equal(res.status, 500, path);
      assert.equal(await res.text(), VE_ERROR, path);
    }
    await gw.waitForLog(/virtual endpoint blew up/);
    await gw.waitForLog(/plugins\/none\.js: no such file/);
    await gw.waitForLog(/not valid base64/);
    await gw.waitForLog(/function_source_type must be .*file.* or .*blob.*, got .*url/);

    const before = upstream.count();
    assert.equal(await statusOf(fetch(`${gw.url}/many/proxied`)), 200, "proxy_on_error");
    assert.equal(upstream.count(), before + 1);

    const post = await fetch(`${gw.url}/post/hello`);
    assert.equal(post.status, 200, "post hooks do not run after a virtual endpoint");
    assert.equal(await post.text(), "THIS IS A VIRTUAL RESPONSE");
    assert.equal(await statusOf(fetch(`${gw.url}/post/other`)), 418, "they do on other paths");

    const started = performance.now();
    const spinning = fetch(`${gw.url}/many/spin`);
    for (let i = 0; i < 3; i++) assert.equal(await statusOf(fetch(`${gw.url}/seed/hello`)), 200);
    const spun = await spinning;
    assert.equal(spun.status, 500);
    assert.equal(await spun.text(), VE_ERROR);
    assert.ok(performance.now() - started < 5_000, "stopped within jsvm_timeout (1 s), not later");
    assert.equal(await statusOf(fetch(`${gw.url}/many/echo`, { method: "POST" })), 201, "a fresh worker");
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

Deno.test("use_session writes SessionMeta back; responses are cached where cache_options asks, errors never", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({
    conf: { enable_jsvm: true },
    files: { "plugins/handlers.js": HANDLERS },
    apps: {
      "meta.json": tokenApi("meta", "/meta/", upstream.url, {
        ...defaultVersion({
          virtual: [ve("/count", "withMeta", { use_session: true }), ve("/peek", "peek")],
        }),
      }),
      "cached.json": keylessApi("cached", "/cached/", upstream.url, {
        cache_options: { enable_cache: true, cache_timeout: 60 },
        ...defaultVersion({
          virtual: [
            ve("/hit", "counted"),
            ve("/fail", "counted"),
            ve("/throw", "thrower"),
            ve("/plain", "counted"),
          ],
          cache: ["/hit", "/fail", "/throw"],
        }),
      }),
    },
  });
  try {
    const { key } = await (await gw.admin("/tyk/keys/create", {
      method: "POST",
      body: JSON.stringify({
        org_id: "default",
        access_rights: { meta: { api_id: "meta", versions: ["Default"] } },
        meta_data: { team: "blue" },
      }),
    })).json();
    for (const expected of ["count 1", "count 2"]) {
      const res = await fetch(`${gw.url}/meta/count`, { headers: { authorization: key } });
      assert.equal(await res.text(), expected);
    }
    const peeked = await fetch(`${gw.url}/meta/peek`, { headers: { authorization: key } });
    assert.equal(await peeked.text(), "{}", "without use_session the function gets no session");
    const stored = await (await gw.admin(`/tyk/keys/${key}`)).json();
    assert.deepEqual(
      stored.meta_data,
      { team: "blue", count: 2, nested: { seen: true, list: [1, "two"] } },
      "written back with use_session only",
    );

    const first = await fetch(`${gw.url}/cached/hit`);
    assert.equal(await first.text(), "call 1");
    assert.equal(first.headers.get("x-tyk-cached-response"), null);
    let second: Response | undefined;
    // the entry is written as the first response streams out: wait for it, not for a fixed time
    for (let i = 0; i < 50; i++) {
      second = await fetch(`${gw.url}/cached/hit`);
      if (second.headers.get("x-tyk-cached-response") === "1") break;
      await second.body?.cancel();
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(second!.headers.get("x-tyk-cached-response"), "1");
    assert.equal(await second!.text(), "call 1", "served from the cache, the function not called");

    for (const expected of ["call 1", "call 2", "call 3"]) {
      const res = await fetch(`${gw.url}/cached/fail`);
      assert.equal(res.status, 500);
      assert.equal(await res.text(), expected, "a 500 the function returned is not cached");
    }
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${gw.url}/cached/throw`);
      assert.equal(res.headers.get("x-tyk-cached-response"), null, "a virtual endpoint error is not cached");
      assert.equal(await res.text(), VE_ERROR);
    }
    for (const expected of ["call 1", "call 2"]) {
      assert.equal(await (await fetch(`${gw.url}/cached/plain`)).text(), expected, "uncached path");
    }
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

Deno.test("disable_virtual_path_blobs refuses blobs only, absolute and relative files load; a broken tyk_js_path library stops nothing", async () => {
  const upstream = await startUpstream();
  // tyk_js_path is read relative to the working directory, so this test names it by its absolute path
  const dir = await Deno.makeTempDir({ prefix: "portcullis-test-" });
  const gw = await startGateway({
    dir,
    conf: { enable_jsvm: true, disable_virtual_path_blobs: true, tyk_js_path: `${dir}/lib/broken.js` },
    files: {
      "plugins/seed.js": SEED_HANDLER,
      "plugins/absolute.js": SEED_HANDLER.replace("myVirtualHandler", "fromAbsolute"),
      "lib/broken.js": "function broken( {",
    },
    apps: {
      "mixed.json": veApi("mixed", "/mixed/", upstream.url, [
        ve("/file", "myVirtualHandler", { function_source_uri: "plugins/seed.js" }),
        ve("/absolute", "fromAbsolute", { function_source_uri: `${dir}/plugins/absolute.js` }),
        ve("/blob", "fromBlob", {
          function_source_type: "blob",
          function_source_uri: base64(SEED_HANDLER.replace("myVirtualHandler", "fromBlob")),
        }),
      ]),
    },
  });
  try {
    await gw.waitForLog(/lib\/broken\.js/);
    assert.equal(await (await fetch(`${gw.url}/mixed/file`)).text(), "THIS IS A VIRTUAL RESPONSE");
    assert.equal(await (await fetch(`${gw.url}/mixed/absolute`)).text(), "THIS IS A VIRTUAL RESPONSE");
    const blob = await fetch(`${gw.url}/mixed/blob`);
    assert.equal(blob.status, 500);
    assert.equal(await blob.text(), VE_ERROR);
    await gw.waitForLog(/blobs are not allowed on this node/);
  } finally {
    await gw.stop();
    await Deno.remove(dir, { recursive: true });
    await upstream.stop();
  }
});

Deno.test("with enable_jsvm false a virtual endpoint is not compiled: the request is proxied", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({
    conf: { enable_jsvm: false },
    files: { "plugins/seed.js": SEED_HANDLER },
    apps: {
      "off.json": veApi("off", "/off/", upstream.url, [
        ve("/hello", "myVirtualHandler", { function_source_uri: "plugins/seed.js" }),
      ]),
    },
  });
  try {
    const res = await fetch(`${gw.url}/off/hello`);
    assert.equal(res.headers.get("x-upstream"), "echo");
    await res.body?.cancel();
    assert.equal(upstream.count(), 1);
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

Deno.test("a Tyk OAS API's virtualEndpoint operations answer from a file or a base64 body", async () => {
  const upstream = await startUpstream();
  const operation = (method: string, operationId: string) => ({
    [method]: { operationId, responses: { "200": { description: "ok" } } },
  });
  const gw = await startGateway({
    conf: { enable_jsvm: true },
    files: { "plugins/seed.js": SEED_HANDLER },
    apps: {
      "pets.json": {
        openapi: "3.0.3",
        info: { title: "pets", version: "1.0" },
        paths: {
          "/hello": operation("get", "hello"),
          "/echo": operation("post", "echo"),
          "/off": operation("get", "off"),
        },
        "x-tyk-api-gateway": {
          info: { id: "pets", name: "pets", state: { active: true } },
          upstream: { url: upstream.url },
          server: { listenPath: { value: "/pets/", strip: true } },
          middleware: {
            global: { pluginConfig: { data: { enabled: true, value: { foo: "bar" } } } },
            operations: {
              hello: {
                virtualEndpoint: { enabled: true, functionName: "myVirtualHandler", path: "plugins/seed.js" },
              },
              echo: {
                virtualEndpoint: { enabled: true, functionName: "echoRequest", body: base64(HANDLERS) },
              },
              off: { virtualEndpoint: { enabled: false, functionName: "thrower", body: base64(HANDLERS) } },
            },
          },
        },
      },
    },
  });
  try {
    const hello = await fetch(`${gw.url}/pets/hello`);
    assert.equal(hello.status, 200);
    assert.equal(await hello.text(), "THIS IS A VIRTUAL RESPONSE");
    assert.equal(hello.headers.get("x-test"), "virtual-header");

    const echo = await fetch(`${gw.url}/pets/echo`, { method: "POST", body: "in" });
    assert.equal(echo.status, 201);
    const seen = await echo.json();
    assert.equal(seen.request.Body, "in");
    assert.deepEqual(seen.config.config_data, { foo: "bar" }, "pluginConfig.data reaches the function");
    assert.equal(upstream.count(), 0);

    const off = await fetch(`${gw.url}/pets/off`);
    assert.equal(off.headers.get("x-upstream"), "echo", "a disabled virtualEndpoint is proxied");
    await off.body?.cancel();
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});
