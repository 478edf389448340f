/** End to end: Tyk JS plugins, unchanged, through the real gateway process and real Workers. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { keylessApi, startGateway, tokenApi, withPlugins } from "./support/gateway.ts";
import { freePort } from "./support/free_port.ts";
import { statusOf } from "./support/http.ts";
import { startRawHttpServer } from "./support/raw_http_server.ts";
import { type Echo, startUpstream } from "./support/upstream.ts";
import { base64Text } from "./support/base64.ts";
import {
  CONFIG_DATA,
  RETURN_OVERRIDES,
  SAMPLE_MIDDLEWARE,
  SNAKE_CASE_OVERRIDES,
  SOME_CONDITION,
} from "./support/tyk_examples.ts";

const JSVM = { enable_jsvm: true, jsvm_timeout: 2 };

Deno.test("Tyk's documented examples run unchanged", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({
    conf: JSVM,
    files: {
      "plugins/sampleMiddleware.js": SAMPLE_MIDDLEWARE,
      "plugins/overrides.js": RETURN_OVERRIDES,
      "plugins/snake.js": SOME_CONDITION + SNAKE_CASE_OVERRIDES,
      "plugins/configData.js": CONFIG_DATA,
    },
    apps: {
      "sample.json": withPlugins(keylessApi("sample", "/sample/", upstream.url), {
        pre: [{ name: "sampleMiddleware", path: "plugins/sampleMiddleware.js" }],
      }),
      "over.json": withPlugins(keylessApi("over", "/over/", upstream.url), {
        pre: [{ name: "testJSVMData", path: "plugins/overrides.js" }],
      }),
      "snake.json": withPlugins(keylessApi("snake", "/snake/", upstream.url), {
        pre: [{ name: "testJSVMData", path: "plugins/snake.js" }],
      }),
      "conf.json": withPlugins(keylessApi("conf", "/conf/", upstream.url), {
        pre: [{ name: "testJSVMData", path: "plugins/configData.js" }],
      }, { config_data: { foo: "bar" } }),
    },
  });
  try {
    assert.equal(await statusOf(fetch(`${gw.url}/sample/x`)), 200);
    await gw.waitForLog("This middleware does nothing, but will print this to your terminal.");

    const over = await fetch(`${gw.url}/over/x`);
    assert.equal(over.status, 200);
    assert.equal(await over.text(), "Foobarbaz", "ResponseError replaces ResponseBody when set");
    assert.equal(over.headers.get("x-foo"), "Bar");
    assert.equal(over.headers.get("x-baz"), "Qux");
    assert.equal(over.headers.get("server"), "tyk");

    const snake = await fetch(`${gw.url}/snake/x`);
    assert.equal(snake.status, 403);
    assert.equal(snake.headers.get("x-error"), "the-condition");
    assert.deepEqual(await snake.json(), { error: "Access Denied" });

    const conf: Echo = await (await fetch(`${gw.url}/conf/x`)).json();
    assert.equal(conf.headers["data-foo"], "bar");
    assert.equal(upstream.count(), 2, "the override examples never reach the upstream");
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

const REQUEST_FIELDS = `var fields = new TykJS.TykMiddleware.NewMiddleware({});
fields.NewProcessRequest(function (request, session, spec) {
  request.SetHeaders["X-Seen"] = JSON.stringify({
    headers: request.Headers, params: request.Params, url: request.URL, method: request.Method,
    uri: request.RequestURI, scheme: request.Scheme, body: request.Body, api: spec.APIID, org: spec.OrgID,
    session: session, underscore: _.map([1, 2], function (x) { return x * 2; }),
    b64: b64enc("é") + "|" + b64dec("dGVzdHN0cmluZw==") + "|" + rawb64enc("a")
  });
  request.DeleteHeaders.push("X-Remove-Me");
  request.AddParams["added"] = "1";
  request.DeleteParams.push("drop");
  request.ExtendedParams["multi"] = ["x", "y"];
  request.Body = request.Body.toUpperCase();
  request.URL = "/rewritten/path?" + request.URL.split("?")[1];
  return fields.ReturnData(request, {});
});
`;

Deno.test("a pre hook sees every request field and its edits reach the upstream", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({
    conf: JSVM,
    files: { "plugins/fields.js": REQUEST_FIELDS },
    apps: {
      "f.json": withPlugins(keylessApi("fields", "/f/", upstream.url), {
        pre: [{ name: "fields", path: "plugins/fields.js" }],
      }),
    },
  });
  try {
    const res = await fetch(`${gw.url}/f/a%20b?drop=1&keep=2&keep=3`, {
      method: "POST",
      headers: { "x-api-key": "k", "X-Remove-Me": "1" },
      body: "hello body",
    });
    assert.equal(res.status, 200);
    const echo: Echo = await res.json();
    const seen = JSON.parse(echo.headers["x-seen"]);
    assert.deepEqual(seen.headers["X-Api-Key"], ["k"]);
    assert.ok(seen.headers["Host"][0].startsWith("127.0.0.1:"));
    assert.deepEqual(seen.params, { drop: ["1"], keep: ["2", "3"] });
    assert.equal(seen.url, "/f/a%20b?drop=1&keep=2&keep=3");
    assert.equal(seen.uri, "/f/a%20b?drop=1&keep=2&keep=3");
    assert.equal(seen.method, "POST");
    assert.equal(seen.scheme, "http");
    assert.equal(seen.body, "hello body");
    assert.equal(seen.api, "fields");
    assert.equal(seen.org, "default");
    assert.deepEqual(seen.session, {});
    assert.deepEqual(seen.underscore, [2, 4]);
    assert.equal(seen.b64, "w6k=|teststring|YQ");
    assert.equal(echo.headers["x-remove-me"], undefined);
    assert.equal(echo.path, "/rewritten/path");
    assert.equal(echo.query, "added=1&keep=2&keep=3&multi=x&multi=y");
    assert.equal(base64Text(echo.body), "HELLO BODY");
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

const PASS_THROUGH = `var passThrough = new TykJS.TykMiddleware.NewMiddleware({});
passThrough.NewProcessRequest(function (request, session, spec) {
  request.SetHeaders["X-Passed"] = "yes";
  return passThrough.ReturnData(request, {});
});
`;

Deno.test("a binary body the plugin does not change reaches the upstream byte for byte (both drivers)", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({
    conf: JSVM,
    files: { "plugins/passThrough.js": PASS_THROUGH },
    apps: {
      "o.json": withPlugins(keylessApi("otto", "/otto/", upstream.url), {
        pre: [{ name: "passThrough", path: "plugins/passThrough.js" }],
      }),
      "j.json": withPlugins(keylessApi("goja", "/goja/", upstream.url), {
        driver: "javascript",
        pre: [{ name: "passThrough", path: "plugins/passThrough.js" }],
      }),
    },
  });
  try {
    const bytes = new Uint8Array([0xff, 0x00, 0xfe, 0x80, 0x41, 0xc3, 0x28, 0x0a]);
    for (const prefix of ["otto", "goja"]) {
      const echo: Echo = await (await fetch(`${gw.url}/${prefix}/bin`, { method: "POST", body: bytes }))
        .json();
      assert.equal(echo.headers["x-passed"], "yes");
      assert.deepEqual(Uint8Array.fromBase64(echo.body), bytes);
    }
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

const META_WRITER = `var metaWriter = new TykJS.TykMiddleware.NewMiddleware({});
metaWriter.NewProcessRequest(function (request, session, spec) {
  var meta = session.meta_data || {};
  meta.visits = String(parseInt(meta.visits || "0", 10) + 1);
  request.SetHeaders["X-Visits"] = meta.visits;
  return metaWriter.ReturnData(request, meta);
});
`;

const POST_AUTH = `var postAuth = new TykJS.TykMiddleware.NewMiddleware({});
postAuth.NewProcessRequest(function (request, session, spec) {
  request.SetHeaders["X-Team"] = session.meta_data.team;
  return postAuth.ReturnData(request, session.meta_data);
});
`;

Deno.test("post_key_auth and post hooks see the session and meta_data is written back to the store", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({
    conf: JSVM,
    files: { "plugins/metaWriter.js": META_WRITER, "plugins/postAuth.js": POST_AUTH },
    apps: {
      "t.json": withPlugins(tokenApi("tok", "/tok/", upstream.url), {
        post_key_auth: [{ name: "postAuth", path: "plugins/postAuth.js", require_session: true }],
        post: [{ name: "metaWriter", path: "plugins/metaWriter.js", require_session: true }],
      }),
    },
  });
  try {
    const { key } = await (await gw.admin("/tyk/keys/create", {
      method: "POST",
      body: JSON.stringify({
        org_id: "default",
        access_rights: { tok: { api_id: "tok", versions: ["Default"] } },
        meta_data: { team: "blue" },
      }),
    })).json();
    for (const expected of ["1", "2", "3"]) {
      const echo: Echo = await (await fetch(`${gw.url}/tok/`, { headers: { authorization: key } })).json();
      assert.equal(echo.headers["x-visits"], expected);
      assert.equal(echo.headers["x-team"], "blue");
    }
    const stored = await (await gw.admin(`/tyk/keys/${key}`)).json();
    assert.deepEqual(stored.meta_data, { team: "blue", visits: "3" });
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

const CUSTOM_AUTH = `var customAuth = new TykJS.TykMiddleware.NewMiddleware({});
customAuth.NewProcessRequest(function (request, session, spec) {
  var token = request.Headers["X-Secret"];
  if (token == "open-sesame") {
    var s = { org_id: "default", access_rights: {}, meta_data: { who: "custom" }, rate: 0, per: 0, quota_max: -1 };
    return { Request: request, Session: s, AuthValue: "custom-user-1" };
  }
  request.ReturnOverrides.ResponseCode = 401;
  request.ReturnOverrides.ResponseError = "Not authorized (JS middleware)";
  return customAuth.ReturnAuthData(request, session);
});
`;

Deno.test("a JS auth_check accepts or rejects requests", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({
    conf: JSVM,
    files: { "plugins/customAuth.js": CUSTOM_AUTH, "plugins/metaWriter.js": META_WRITER },
    apps: {
      "c.json": withPlugins(tokenApi("custom", "/custom/", upstream.url), {
        auth_check: { name: "customAuth", path: "plugins/customAuth.js" },
        post: [{ name: "metaWriter", path: "plugins/metaWriter.js", require_session: true }],
      }, { custom_plugin_auth_enabled: true }),
    },
  });
  try {
    const denied = await fetch(`${gw.url}/custom/`, { headers: { "x-secret": "wrong" } });
    assert.equal(denied.status, 401);
    assert.deepEqual(await denied.json(), { error: "Not authorized (JS middleware)" });
    const ok: Echo = await (await fetch(`${gw.url}/custom/`, { headers: { "x-secret": "open-sesame" } }))
      .json();
    assert.equal(ok.headers["x-visits"], "1");
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

const THROWS = `var thrower = new TykJS.TykMiddleware.NewMiddleware({});
thrower.NewProcessRequest(function (request, session, spec) {
  if (request.URL.indexOf("garbage") !== -1) return "not an object";
  if (request.URL.indexOf("nothing") !== -1) return;
  throw new Error("plugin blew up");
});
`;

const LOOPS = `var looper = new TykJS.TykMiddleware.NewMiddleware({});
looper.NewProcessRequest(function (request, session, spec) {
  if (request.URL.indexOf("spin") !== -1) { log("looper starts spinning"); while (true) {} }
  return looper.ReturnData(request, {});
});
`;

Deno.test("plugins that throw, return garbage or loop forever get Tyk's 500; other APIs do not notice", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({
    conf: { enable_jsvm: true, jsvm_timeout: 3 },
    files: {
      "plugins/thrower.js": THROWS,
      "plugins/looper.js": LOOPS,
      "plugins/passThrough.js": PASS_THROUGH,
    },
    apps: {
      "t.json": withPlugins(keylessApi("thrower", "/throw/", upstream.url), {
        pre: [{ name: "thrower", path: "plugins/thrower.js" }],
      }),
      "l.json": withPlugins(keylessApi("looper", "/loop/", upstream.url), {
        pre: [{ name: "looper", path: "plugins/looper.js" }],
      }),
      "ok.json": withPlugins(keylessApi("fine", "/fine/", upstream.url), {
        pre: [{ name: "passThrough", path: "plugins/passThrough.js" }],
      }),
      "missing.json": withPlugins(keylessApi("missing", "/missing/", upstream.url), {
        pre: [{ name: "nowhere", path: "plugins/nowhere.js" }],
      }),
    },
  });
  try {
    for (const path of ["/throw/x", "/throw/garbage", "/throw/nothing", "/missing/x"]) {
      const res = await fetch(gw.url + path);
      assert.equal(res.status, 500, path);
      assert.equal(await res.text(), '{\n    "error": "Internal Server Error"\n}');
    }
    await gw.waitForLog(/api_id=thrower.*plugin blew up|plugin blew up.*api_id=thrower/);
    await gw.waitForLog(/thrower\.js:5/);
    await gw.waitForLog(/nowhere\.js/);

    let spinDone = false;
    const spinning = fetch(`${gw.url}/loop/spin`).finally(() => spinDone = true);
    await gw.waitForLog("looper starts spinning");
    for (let i = 0; i < 5; i++) assert.equal(await statusOf(fetch(`${gw.url}/fine/x`)), 200);
    assert.equal(
      await statusOf(fetch(`${gw.url}/loop/fine`)),
      200,
      "the looping API's other worker still answers",
    );
    assert.equal(spinDone, false, "answered while the loop spun (a 3 s jsvm_timeout)");
    const spun = await spinning;
    assert.equal(spun.status, 500);
    assert.deepEqual(await spun.json(), { error: "Internal Server Error" });
    await gw.waitForLog(/looper.*did not finish within 3000 ms|did not finish within 3000 ms.*looper/);
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

Deno.test("a worker killed for looping is replaced: an API's only worker serves the next request", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({
    conf: { enable_jsvm: true, jsvm_timeout: 1, jsvm_pool_size: 1 },
    files: { "plugins/looper.js": LOOPS },
    apps: {
      "l.json": withPlugins(keylessApi("looper", "/loop/", upstream.url), {
        pre: [{ name: "looper", path: "plugins/looper.js" }],
      }),
    },
  });
  try {
    for (let round = 1; round <= 2; round++) {
      const spun = await fetch(`${gw.url}/loop/spin`);
      assert.deepEqual([spun.status, await spun.json()], [500, { error: "Internal Server Error" }]);
      assert.equal(await statusOf(fetch(`${gw.url}/loop/fine`)), 200, `after the loop of round ${round}`);
    }
    assert.equal(upstream.count(), 2);
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

const ESCAPES = `var escape = new TykJS.TykMiddleware.NewMiddleware({});
escape.NewProcessRequest(function (request, session, spec) {
  var canary = spec.config_data.canary;
  var results = {};
  function attempt(name, fn) {
    try { var v = fn(); results[name] = "ALLOWED " + String(v).slice(0, 40); }
    catch (e) { results[name] = "blocked"; }
  }
  attempt("readFile", function () { return Deno.readTextFileSync("/etc/hostname"); });
  attempt("env", function () { return Deno.env.get("HOME"); });
  attempt("fetch", function () { return fetch(canary); });
  attempt("worker", function () { return new Worker("data:text/javascript,1", { type: "module" }); });
  attempt("eval-import", function () { return eval("import('" + canary + "')"); });
  attempt("function-import", function () { return new Function("return import('" + canary + "')")(); });
  attempt("constructor-import", function () { return (function(){}).constructor("return import('file:///etc/hostname')")(); });
  request.SetHeaders["X-Escapes"] = JSON.stringify(results);
  if (request.Params.tamper) {
    JSON.parse = function () { return { hacked: true }; };
    Object.prototype.toJSON = function () { return "hacked"; };
    Array.prototype.push = function () { return 0; };
  }
  return escape.ReturnData(request, {});
});
`;

Deno.test("sandbox escape attempts fail and nothing reaches the network", async () => {
  const upstream = await startUpstream();
  const canary = await startUpstream(); // counts the requests it gets
  const canaryUrl = `${canary.url}/x.js`;
  const gw = await startGateway({
    // One worker, so the call after the tampering one runs in the same sandbox
    conf: { ...JSVM, jsvm_pool_size: 1 },
    files: { "plugins/escape.js": ESCAPES },
    apps: {
      "e.json": withPlugins(keylessApi("escape", "/esc/", upstream.url), {
        pre: [{ name: "escape", path: "plugins/escape.js" }],
      }, { config_data: { canary: canaryUrl } }),
    },
  });
  try {
    // The tampering call itself may fail (Tyk's own bootstrap stringifies with the tampered JSON too)
    await (await fetch(`${gw.url}/esc/?tamper=1`)).body?.cancel();
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${gw.url}/esc/`);
      assert.equal(res.status, 200, "prototype tampering in one call does not break the next");
      const echo: Echo = await res.json();
      const results = JSON.parse(echo.headers["x-escapes"]);
      for (const [name, outcome] of Object.entries(results)) assert.equal(outcome, "blocked", name);
    }
    assert.equal(canary.count(), 0);
  } finally {
    await gw.stop();
    await upstream.stop();
    await canary.stop();
  }
});

Deno.test("enable_jsvm false: JS hooks answer 500 middleware error", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({
    conf: { enable_jsvm: false },
    files: { "plugins/passThrough.js": PASS_THROUGH },
    apps: {
      "p.json": withPlugins(keylessApi("off", "/off/", upstream.url), {
        pre: [{ name: "passThrough", path: "plugins/passThrough.js" }],
      }),
    },
  });
  try {
    const res = await fetch(`${gw.url}/off/`);
    assert.equal(res.status, 500);
    assert.deepEqual(await res.json(), { error: "middleware error" });
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

Deno.test("directory loader: a plugin edited on disk is served after reload, under load, with no failed request", async () => {
  const upstream = await startUpstream();
  const version = (n: number) =>
    `var tagger = new TykJS.TykMiddleware.NewMiddleware({});
tagger.NewProcessRequest(function (request, session, spec) {
  request.SetHeaders["X-Version"] = "${n}";
  return tagger.ReturnData(request, {});
});
`;
  const gw = await startGateway({
    conf: { ...JSVM, middleware_path: "middleware" },
    files: { "middleware/dir/pre/tagger.js": version(1) },
    apps: {
      "d.json": { ...keylessApi("dir", "/dir/", upstream.url), custom_middleware: { driver: "otto" } },
    },
  });
  try {
    const echo: Echo = await (await fetch(`${gw.url}/dir/`)).json();
    assert.equal(echo.headers["x-version"], "1");
    let stop = false;
    const failures: string[] = [];
    const seen = new Set<string>();
    const client = async () => {
      while (!stop) {
        const res = await fetch(`${gw.url}/dir/`);
        if (res.status !== 200) failures.push(`${res.status} ${await res.text()}`);
        else seen.add((await res.json() as Echo).headers["x-version"]);
      }
    };
    const clients = Array.from({ length: 6 }, client);
    for (let n = 2; n <= 6; n++) {
      await Deno.writeTextFile(join(gw.dir, "middleware/dir/pre/tagger.js"), version(n));
      await (await gw.admin("/tyk/reload?block=true")).body?.cancel();
    }
    stop = true;
    await Promise.all(clients);
    assert.deepEqual(failures, []);
    const last: Echo = await (await fetch(`${gw.url}/dir/`)).json();
    assert.equal(last.headers["x-version"], "6");
    assert.ok(seen.size >= 2, `versions seen under load: ${[...seen]}`);
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

Deno.test("a .js plugin without driver runs as otto with a warning", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({
    conf: JSVM,
    files: { "plugins/passThrough.js": PASS_THROUGH },
    apps: {
      "n.json": {
        ...keylessApi("nodriver", "/nd/", upstream.url),
        custom_middleware: { pre: [{ name: "passThrough", path: "plugins/passThrough.js" }] },
      },
    },
  });
  try {
    const echo: Echo = await (await fetch(`${gw.url}/nd/`)).json();
    assert.equal(echo.headers["x-passed"], "yes");
    await gw.waitForLog(/driver/i);
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

const HOST_API = `var hostApi = new TykJS.TykMiddleware.NewMiddleware({});
hostApi.NewProcessRequest(function (request, session, spec) {
  var res = JSON.parse(TykMakeHttpRequest(JSON.stringify({
    Method: "POST", Domain: spec.config_data.upstream, Resource: "/side-call?x=1", Body: "ping",
    Headers: { "x-from-plugin": "yes" }
  })));
  TykStorageSet("visits", "41", 0);
  var n = TykStorageIncr("visits", 0);
  var missing = TykStorageGet("never-set");
  var key = JSON.parse(TykGetKeyData("no-such-key", spec.APIID));
  request.SetHeaders["X-Host"] = JSON.stringify({
    code: res.Code, sameAsLower: res.code === res.Code, path: JSON.parse(res.Body).path,
    sawHeader: JSON.parse(res.Body).headers["x-from-plugin"], incr: n, missing: missing, ttl: TykStorageTTL("visits"),
    key: key.message
  });
  return hostApi.ReturnData(request, {});
});
`;

Deno.test("plugins reach the host API: TykMakeHttpRequest, TykStorage*, TykGetKeyData", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({
    conf: JSVM,
    files: { "plugins/hostApi.js": HOST_API },
    apps: {
      "h.json": withPlugins(keylessApi("host", "/host/", upstream.url), {
        pre: [{ name: "hostApi", path: "plugins/hostApi.js" }],
      }, { config_data: { upstream: upstream.url } }),
    },
  });
  try {
    const echo: Echo = await (await fetch(`${gw.url}/host/`)).json();
    assert.deepEqual(JSON.parse(echo.headers["x-host"]), {
      code: 200,
      sameAsLower: true,
      path: "/side-call",
      sawHeader: "yes",
      incr: "42",
      missing: null,
      ttl: -1,
      key: "Key not found",
    });
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

const KEY_ADMIN = `var keyAdmin = new TykJS.TykMiddleware.NewMiddleware({});
keyAdmin.NewProcessRequest(function (request, session, spec) {
  var key = request.Params.key[0];
  TykSetKeyData(key, JSON.stringify({
    org_id: "default", quota_max: 5, quota_renewal_rate: 3600, meta_data: { by: request.Params.by[0] },
    access_rights: { tok: { api_id: "tok", api_name: "tok", versions: ["Default"] } }
  }), request.Params.suppress[0]);
  request.ReturnOverrides.ResponseCode = 200;
  request.ReturnOverrides.ResponseBody = TykGetKeyData(key, "tok");
  return keyAdmin.ReturnData(request, {});
});
`;

Deno.test('TykSetKeyData creates and updates a key (quota reset unless suppressReset is "1"); TykGetKeyData reads it', async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({
    conf: JSVM,
    files: { "plugins/keyAdmin.js": KEY_ADMIN },
    apps: {
      "a.json": withPlugins(keylessApi("admin", "/admin/", upstream.url), {
        pre: [{ name: "keyAdmin", path: "plugins/keyAdmin.js" }],
      }),
      "t.json": tokenApi("tok", "/tok/", upstream.url),
    },
  });
  const setKey = async (by: string, suppress: string) => {
    const res = await fetch(`${gw.url}/admin/?key=plugin-key&by=${by}&suppress=${suppress}`);
    assert.equal(res.status, 200);
    return JSON.parse(await res.text());
  };
  const stored = async () => await (await gw.admin("/tyk/keys/plugin-key")).json();
  try {
    assert.equal(await statusOf(fetch(`${gw.url}/tok/`, { headers: { authorization: "plugin-key" } })), 403);
    assert.deepEqual((await setKey("first", "0")).meta_data, { by: "first" });
    for (let i = 0; i < 3; i++) {
      assert.equal(
        await statusOf(fetch(`${gw.url}/tok/`, { headers: { authorization: "plugin-key" } })),
        200,
      );
    }
    assert.deepEqual([(await stored()).meta_data, (await stored()).quota_remaining], [{ by: "first" }, 2]);
    assert.deepEqual((await setKey("second", "1")).meta_data, { by: "second" });
    assert.deepEqual([(await stored()).meta_data, (await stored()).quota_remaining], [{ by: "second" }, 2]);
    await setKey("third", "0");
    assert.deepEqual([(await stored()).meta_data, (await stored()).quota_remaining], [{ by: "third" }, 5]);
    assert.equal(await statusOf(fetch(`${gw.url}/tok/`, { headers: { authorization: "plugin-key" } })), 200);
    assert.equal((await stored()).quota_remaining, 4);
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

const BATCH = `var batch = new TykJS.TykMiddleware.NewMiddleware({});
batch.NewProcessRequest(function (request, session, spec) {
  var base = spec.config_data.upstream;
  var sequential = request.Params.sequential !== undefined;
  var out = TykBatchRequest(JSON.stringify({
    requests: [
      { method: "GET", relative_url: base + "/waits-for-second", headers: {} },
      { method: "POST", relative_url: base + "/second", body: "two", headers: { "x-n": "2" } },
      { method: "GET", relative_url: spec.config_data.closed + "/refused", headers: {} }
    ],
    suppress_parallel_execution: sequential
  }));
  request.ReturnOverrides.ResponseCode = 200;
  request.ReturnOverrides.ResponseBody = out;
  return batch.ReturnData(request, {});
});
`;

Deno.test("TykBatchRequest runs requests in parallel (answers in completion order), or one by one with suppress_parallel_execution", async () => {
  await using upstream = await startRawHttpServer({
    respond: async (req) => {
      if (req.target !== "/waits-for-second") {
        return { headers: [["X-Seen", req.header("x-n") ?? ""]], body: req.text() };
      }
      // /second arrives meanwhile only when the requests run side by side; run one by one, this gives up after
      // a second and says so. Side by side, it answers half a second after /second, which has long been
      // answered by then: the batch's answers are in completion order, /second first.
      const seconds = () => upstream.requests.filter((r) => r.target === "/second").length;
      const before = seconds();
      const together = await upstream.waitUntil(() => seconds() > before, 1_000).then(
        () => true,
        () => false,
      );
      if (together) await new Promise((resolve) => setTimeout(resolve, 500));
      return { body: together ? "together" : "alone" };
    },
  });
  const gw = await startGateway({
    conf: JSVM,
    files: { "plugins/batch.js": BATCH },
    apps: {
      "b.json": withPlugins(keylessApi("batch", "/batch/", upstream.url), {
        pre: [{ name: "batch", path: "plugins/batch.js" }],
      }, { config_data: { upstream: upstream.url, closed: `http://127.0.0.1:${freePort()}` } }),
    },
  });
  type Result = {
    relative_url: string;
    code: number;
    headers: Record<string, string[]> | null;
    body: string;
  };
  // what each answer says, with the one header the upstream set on purpose
  const brief = (results: Result[]) =>
    results.map((
      r,
    ) => [r.relative_url, r.code, r.body, r.headers === null ? null : r.headers["X-Seen"] ?? []]);
  const second = [`${upstream.url}/second`, 200, "two", ["2"]];
  const failed = ["", 0, "", null];
  try {
    const parallel: Result[] = JSON.parse(await (await fetch(`${gw.url}/batch/`)).text());
    const waited = `${upstream.url}/waits-for-second`;
    // in completion order: /second first; the refused one may come anywhere
    assert.deepEqual(brief(parallel).filter((r) => r[1] !== 0), [second, [waited, 200, "together", []]]);
    assert.deepEqual(brief(parallel).filter((r) => r[1] === 0), [failed]);
    assert.equal(parallel.find((r) => r.code === 0)?.headers, null);
    const oneByOne: Result[] = JSON.parse(await (await fetch(`${gw.url}/batch/?sequential`)).text());
    assert.deepEqual(brief(oneByOne), [[waited, 200, "alone", []], second, failed]);
  } finally {
    await gw.stop();
  }
});

const USES_LIBRARY = `var usesLibrary = new TykJS.TykMiddleware.NewMiddleware({});
usesLibrary.NewProcessRequest(function (request, session, spec) {
  request.SetHeaders["X-Library"] = libraryGreeting();
  return usesLibrary.ReturnData(request, {});
});
`;

Deno.test("the tyk_js_path library is loaded into every API's sandbox under both drivers, and re-read on reload", async () => {
  const upstream = await startUpstream();
  // tyk_js_path is read relative to the working directory, so the test names it by its absolute path
  const dir = await Deno.makeTempDir({ prefix: "portcullis-test-" });
  const library = (text: string) => `function libraryGreeting() { return "${text}"; }\n`;
  const gw = await startGateway({
    dir,
    conf: { ...JSVM, tyk_js_path: join(dir, "lib/library.js") },
    files: { "lib/library.js": library("from the library"), "plugins/usesLibrary.js": USES_LIBRARY },
    apps: Object.fromEntries(
      (["otto", "javascript"] as const).map((driver) => [
        `${driver}.json`,
        withPlugins(keylessApi(driver, `/${driver}/`, upstream.url), {
          driver,
          pre: [{ name: "usesLibrary", path: "plugins/usesLibrary.js" }],
        }),
      ]),
    ),
  });
  const greeting = async (path: string) => ((await (await fetch(`${gw.url}${path}`)).json()) as Echo).headers;
  try {
    for (const path of ["/otto/", "/javascript/"]) {
      assert.equal((await greeting(path))["x-library"], "from the library", path);
    }
    await Deno.writeTextFile(join(dir, "lib/library.js"), library("edited"));
    await (await gw.admin("/tyk/reload?block=true")).body?.cancel();
    for (const path of ["/otto/", "/javascript/"]) {
      assert.equal((await greeting(path))["x-library"], "edited", path);
    }
  } finally {
    await gw.stop();
    await upstream.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
