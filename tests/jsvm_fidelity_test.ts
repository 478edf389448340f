/**
 * End to end: details of Tyk's JS request object and host API that plugins depend on: body bytes under
 * otto, header lines, which auth provides the session, and what TykMakeHttpRequest sends and answers.
 */
import assert from "node:assert/strict";
import { keylessApi, startGateway, tokenApi, withPlugins } from "./support/gateway.ts";
import { freePort } from "./support/free_port.ts";
import { rawRequest } from "./support/http.ts";
import { startRawHttpServer } from "./support/raw_http_server.ts";
import { type Echo, startUpstream } from "./support/upstream.ts";

const JSVM = { enable_jsvm: true, jsvm_timeout: 2 };

// Tyk's TestJSVMBody plugin
const APPEND = `var leakMid = new TykJS.TykMiddleware.NewMiddleware({});
leakMid.NewProcessRequest(function (request, session) {
  request.Body += " appended";
  return leakMid.ReturnData(request, session.meta_data);
});
`;

Deno.test("otto: a body that is not UTF-8 keeps its bytes through a plugin that appends text (TestJSVMBody)", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({
    conf: JSVM,
    files: { "plugins/append.js": APPEND },
    apps: {
      "o.json": withPlugins(keylessApi("otto", "/otto/", upstream.url), {
        pre: [{ name: "leakMid", path: "plugins/append.js" }],
      }),
      "j.json": withPlugins(keylessApi("goja", "/goja/", upstream.url), {
        driver: "javascript",
        pre: [{ name: "leakMid", path: "plugins/append.js" }],
      }),
    },
  });
  const utf8 = (text: string) => [...new TextEncoder().encode(text)];
  const body = new Uint8Array([...utf8("foô \uffff \u0000 "), 0xff, ...utf8(" bar")]);
  const sent = async (prefix: string) => {
    const echo: Echo = await (await fetch(`${gw.url}/${prefix}/`, { method: "POST", body })).json();
    return Uint8Array.fromBase64(echo.body);
  };
  try {
    assert.deepEqual(await sent("otto"), new Uint8Array([...body, ...utf8(" appended")]));
    // goja reads the body as UTF-8, so a changed body carries U+FFFD where 0xFF was, as in Tyk
    const goja = new Uint8Array([...utf8("foô \uffff \u0000 \ufffd bar"), ...utf8(" appended")]);
    assert.deepEqual(await sent("goja"), goja);
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

const SHOW_HEADERS = `var showHeaders = new TykJS.TykMiddleware.NewMiddleware({});
showHeaders.NewProcessRequest(function (request, session, spec) {
  request.SetHeaders["X-Seen"] = JSON.stringify({
    multi: request.Headers["X-Multi"], accept: request.Headers["Accept"]
  });
  return showHeaders.ReturnData(request, {});
});
`;

Deno.test("request.Headers holds one array element per header line, as Go's http.Header", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({
    conf: JSVM,
    files: { "plugins/showHeaders.js": SHOW_HEADERS },
    apps: {
      "h.json": withPlugins(keylessApi("headers", "/headers/", upstream.url), {
        pre: [{ name: "showHeaders", path: "plugins/showHeaders.js" }],
      }),
    },
  });
  try {
    const reply = await rawRequest(
      gw.port,
      "GET /headers/ HTTP/1.1\r\nHost: gw\r\nX-Multi: 1\r\nX-Multi: 2\r\nAccept: text/html, application/json\r\n",
    );
    assert.equal(reply.status, 200);
    const echo: Echo = JSON.parse(new TextDecoder().decode(reply.body));
    assert.deepEqual(JSON.parse(echo.headers["x-seen"]), {
      multi: ["1", "2"],
      accept: ["text/html, application/json"],
    });
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

const JS_AUTH = `var jsAuth = new TykJS.TykMiddleware.NewMiddleware({});
jsAuth.NewProcessRequest(function (request, session, spec) {
  if (request.Headers["X-Secret"] == "open-sesame") {
    var s = { org_id: "default", access_rights: {}, meta_data: { who: "js" }, quota_max: -1 };
    return { Request: request, Session: s, AuthValue: "js-user-1" };
  }
  request.ReturnOverrides.ResponseCode = 401;
  request.ReturnOverrides.ResponseError = "no";
  return jsAuth.ReturnAuthData(request, session);
});
`;

const WHO = `var who = new TykJS.TykMiddleware.NewMiddleware({});
who.NewProcessRequest(function (request, session, spec) {
  request.SetHeaders["X-Who"] = session.meta_data.who;
  return who.ReturnData(request, session.meta_data);
});
`;

Deno.test("base_identity_provided_by picks the session when a JS auth_check and token auth both run", async () => {
  const upstream = await startUpstream();
  const both = (apiId: string, identity: string) =>
    withPlugins(tokenApi(apiId, `/${apiId}/`, upstream.url), {
      auth_check: { name: "jsAuth", path: "plugins/jsAuth.js" },
      post: [{ name: "who", path: "plugins/who.js", require_session: true }],
    }, { custom_plugin_auth_enabled: true, use_standard_auth: true, base_identity_provided_by: identity });
  const gw = await startGateway({
    conf: JSVM,
    files: { "plugins/jsAuth.js": JS_AUTH, "plugins/who.js": WHO },
    apps: { "c.json": both("custom", "custom_auth"), "t.json": both("token", "auth_token") },
  });
  try {
    const { key } = await (await gw.admin("/tyk/keys/create", {
      method: "POST",
      body: JSON.stringify({
        org_id: "default",
        access_rights: {
          custom: { api_id: "custom", versions: ["Default"] },
          token: { api_id: "token", versions: ["Default"] },
        },
        meta_data: { who: "token" },
      }),
    })).json();
    const headers = { "x-secret": "open-sesame", authorization: key };
    const custom: Echo = await (await fetch(`${gw.url}/custom/`, { headers })).json();
    assert.equal(custom.headers["x-who"], "js");
    const token: Echo = await (await fetch(`${gw.url}/token/`, { headers })).json();
    assert.equal(token.headers["x-who"], "token");
    // the token is still checked when the JS session is the identity
    const res = await fetch(`${gw.url}/custom/`, {
      headers: { "x-secret": "open-sesame", authorization: "nope" },
    });
    assert.equal(res.status, 403);
    await res.body?.cancel();
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

const FORM_CALL = `var formCall = new TykJS.TykMiddleware.NewMiddleware({});
formCall.NewProcessRequest(function (request, session, spec) {
  var res = JSON.parse(TykMakeHttpRequest(JSON.stringify({
    Method: "POST", Domain: spec.config_data.target, Resource: "/form?q=1",
    FormData: { b: "x y", a: "1&2" }
  })));
  request.ReturnOverrides.ResponseCode = 200;
  request.ReturnOverrides.ResponseBody = JSON.stringify(res.Headers);
  return formCall.ReturnData(request, {});
});
`;

Deno.test("TykMakeHttpRequest: FormData is sent form-encoded with no Content-Type the plugin did not set", async () => {
  await using target = await startRawHttpServer({
    respond: () => ({
      headers: [["Date", "Mon, 07 Dec 2026 02:46:25 GMT"], ["Vary", "a"], ["Vary", "b"]],
      body: "ok",
    }),
  });
  const gw = await startGateway({
    conf: JSVM,
    files: { "plugins/formCall.js": FORM_CALL },
    apps: {
      "f.json": withPlugins(keylessApi("form", "/form/", target.url), {
        pre: [{ name: "formCall", path: "plugins/formCall.js" }],
      }, { config_data: { target: target.url } }),
    },
  });
  try {
    const res = await fetch(`${gw.url}/form/`);
    assert.equal(res.status, 200);
    const headers = await res.json();
    // one value per header line, as Go's http.Header: a Date is not split at its comma
    assert.deepEqual(headers.Date, ["Mon, 07 Dec 2026 02:46:25 GMT"]);
    assert.deepEqual(headers.Vary, ["a", "b"]);
    assert.equal(target.requests.length, 1);
    const [call] = target.requests;
    assert.equal(call.target, "/form?q=1");
    assert.equal(call.header("content-type"), undefined);
    assert.equal(call.text(), "a=1%262&b=x+y");
    assert.deepEqual(target.errors, []);
  } finally {
    await gw.stop();
  }
});

// Tyk's testTykMakeHTTPRequest.js: a pre hook calls another API of the same gateway with a query string
const MAKE_HTTP_REQUEST = `var testTykMakeHTTPRequest = new TykJS.TykMiddleware.NewMiddleware({});
testTykMakeHTTPRequest.NewProcessRequest(function(request, session, spec) {
  var newRequest = {
    "Method": "GET",
    "Headers": {"Accept": "application/json"},
    "Domain": spec.config_data.base_url,
    "Resource": "/api/get?param1=dummy"
  };
  var resp = TykMakeHttpRequest(JSON.stringify(newRequest));
  var usableResponse = JSON.parse(resp);
  if (usableResponse.Code > 400) {
    request.ReturnOverrides.ResponseCode = usableResponse.code;
    request.ReturnOverrides.ResponseError = "error";
  }
  request.Body = "response_body " + usableResponse.Body;
  return testTykMakeHTTPRequest.ReturnData(request, {});
});
`;

Deno.test("TykMakeHttpRequest to an API on this gateway with a query string returns the target's body", async () => {
  await using upstream = await startRawHttpServer({ respond: (req) => ({ body: `seen ${req.target}` }) });
  // the plugin needs the gateway's own URL before it starts: take a free port
  const port = freePort();
  const gw = await startGateway({
    conf: { ...JSVM, listen_port: port },
    files: { "plugins/makeHttp.js": MAKE_HTTP_REQUEST },
    apps: {
      "s.json": withPlugins(keylessApi("sample", "/sample", upstream.url), {
        pre: [{ name: "testTykMakeHTTPRequest", path: "plugins/makeHttp.js" }],
      }, { config_data: { base_url: `http://127.0.0.1:${port}` } }),
      "a.json": keylessApi("api", "/api", upstream.url),
    },
  });
  try {
    const res = await fetch(`${gw.url}/sample`);
    assert.equal(await res.text(), "seen /");
    assert.deepEqual(upstream.requests.map((r) => [r.target, r.text()]), [
      ["/get?param1=dummy", ""],
      ["/", "response_body seen /get?param1=dummy"],
    ]);
    assert.deepEqual(upstream.errors, []);
  } finally {
    await gw.stop();
  }
});
