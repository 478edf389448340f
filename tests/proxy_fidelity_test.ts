/**
 * End to end: what Tyk's proxy path does to a request: its User-Agent, legacy `method_actions` replies in the
 * endpoint lists of each version, and `url_rewrites` before the listen path is stripped.
 */
import assert from "node:assert/strict";
import { keylessApi, startGateway, tokenApi } from "./support/gateway.ts";
import { rawRequest } from "./support/http.ts";
import { startRawHttpServer } from "./support/raw_http_server.ts";
import { type Echo, startUpstream } from "./support/upstream.ts";
import { VERSION } from "../src/version.ts";

Deno.test("the proxy sends User-Agent: Tyk/<version> only when the client sent no User-Agent", async () => {
  await using upstream = await startRawHttpServer();
  const gw = await startGateway({ apps: { "a.json": keylessApi("ua", "/ua/", upstream.url) } });
  try {
    for (const head of ["", "User-Agent: curl/8.5\r\n", "User-Agent:\r\n"]) {
      const reply = await rawRequest(gw.port, `GET /ua/ HTTP/1.1\r\nHost: gw\r\n${head}`);
      assert.equal(reply.status, 200);
    }
    assert.deepEqual(upstream.requests.map((r) => r.header("user-agent")), [
      `Tyk/${VERSION}`,
      "curl/8.5",
      "",
    ]);
    assert.deepEqual(upstream.errors, []);
  } finally {
    await gw.stop();
  }
});

const reply = (code: number, data: string, headers: Record<string, string> = {}) => ({
  action: "reply",
  code,
  data,
  headers,
});

Deno.test("method_actions reply in white_list, black_list and ignored answers per version without the upstream", async () => {
  const upstream = await startUpstream();
  const versioned = {
    ...keylessApi("ver", "/ver/", upstream.url),
    definition: { location: "header", key: "x-api-version" },
    version_data: {
      not_versioned: false,
      versions: {
        v1: {
          name: "v1",
          use_extended_paths: true,
          extended_paths: {
            white_list: [
              { path: "/mock", method_actions: { GET: reply(202, "from v1", { "x-mock": "one" }) } },
              {
                path: "/open",
                method_actions: { GET: { action: "no_action", code: 200, data: "", headers: {} } },
              },
            ],
          },
        },
        v2: {
          name: "v2",
          use_extended_paths: true,
          extended_paths: { black_list: [{ path: "/mock", method_actions: { GET: reply(200, '{"v":2}') } }] },
        },
      },
    },
  };
  const byUrl = {
    ...tokenApi("tok", "/tok/", upstream.url),
    definition: { location: "url", key: "" },
    version_data: {
      not_versioned: false,
      versions: {
        v1: {
          name: "v1",
          use_extended_paths: true,
          extended_paths: { ignored: [{ path: "/health", method_actions: { GET: reply(200, "healthy") } }] },
        },
      },
    },
  };
  const byParam = {
    ...keylessApi("par", "/par/", upstream.url),
    definition: { location: "url-param", key: "version" },
    version_data: {
      not_versioned: false,
      versions: Object.fromEntries(["v1", "v2"].map((name) => [name, {
        name,
        use_extended_paths: true,
        extended_paths: {
          ignored: [{ path: "/mock", method_actions: { GET: reply(200, `${name} by param`) } }],
        },
      }])),
    },
  };
  const gw = await startGateway({ apps: { "ver.json": versioned, "tok.json": byUrl, "par.json": byParam } });
  const call = async (path: string, version?: string, method = "GET") => {
    const res = await fetch(`${gw.url}${path}`, {
      method,
      headers: version ? { "x-api-version": version } : {},
    });
    return { status: res.status, body: await res.text(), headers: res.headers };
  };
  try {
    const v1 = await call("/ver/mock", "v1");
    assert.deepEqual([v1.status, v1.body, v1.headers.get("x-mock")], [202, "from v1", "one"]);
    assert.equal(v1.headers.get("content-type"), "text/plain; charset=utf-8", "sniffed, as Go's server does");
    assert.equal(
      (await call("/ver/mock", "v1", "POST")).status,
      403,
      "a method without an action is not listed",
    );
    assert.equal((await call("/ver/open", "v1")).status, 200);
    const v2 = await call("/ver/mock", "v2");
    assert.deepEqual([v2.status, v2.body], [200, '{"v":2}'], "a reply wins over black_list");
    assert.equal((await call("/ver/other", "v2")).status, 200);
    const health = await call("/tok/v1/health");
    assert.deepEqual([health.status, health.body], [200, "healthy"], "answered before auth, by URL version");
    assert.equal((await call("/tok/v1/other")).status, 401);
    for (const version of ["v1", "v2"]) {
      const byQuery = await call(`/par/mock?version=${version}`);
      assert.deepEqual([byQuery.status, byQuery.body], [200, `${version} by param`]);
    }
    assert.equal(upstream.count(), 2, "only /ver/open and /ver/other reached the upstream");
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

const SHOW_URL = `var showUrl = new TykJS.TykMiddleware.NewMiddleware({});
showUrl.NewProcessRequest(function (request, session, spec) {
  request.SetHeaders["X-Post-Url"] = request.URL;
  return showUrl.ReturnData(request, {});
});
`;

Deno.test("url_rewrites rewrite the whole URL; then only a leading listen path is stripped", async () => {
  const upstream = await startUpstream();
  const rewrites = [
    {
      path: "/old/{id}",
      method: "GET",
      match_pattern: "/api/old/(\\w+)",
      rewrite_to: "/api/new/$1?from=old",
    },
    { path: "/keep", method: "GET", match_pattern: "/api/keep(.*)", rewrite_to: "/svc/api/keep$1" },
    {
      path: "/switch",
      method: "GET",
      match_pattern: "/api/switch",
      rewrite_to: "/default",
      triggers: [{
        on: "any",
        options: { header_matches: { "x-route": { match_rx: "beta-(\\w+)" } } },
        rewrite_to: "/beta/$tyk_context.trigger-0-X-Route-0-0",
      }],
    },
    { path: "/loop", method: "GET", match_pattern: "/api/loop", rewrite_to: "tyk://self/elsewhere" },
  ];
  const gw = await startGateway({
    conf: { enable_jsvm: true },
    files: { "plugins/showUrl.js": SHOW_URL },
    apps: {
      "api.json": {
        ...keylessApi("rw", "/api/", `${upstream.url}/base`),
        version_data: {
          not_versioned: true,
          versions: { Default: { extended_paths: { url_rewrites: rewrites } } },
        },
        custom_middleware: { driver: "otto", post: [{ name: "showUrl", path: "plugins/showUrl.js" }] },
      },
    },
  });
  const seen = async (path: string, headers: Record<string, string> = {}) => {
    const echo: Echo = await (await fetch(`${gw.url}${path}`, { headers })).json();
    return [echo.query ? `${echo.path}?${echo.query}` : echo.path, echo.headers["x-post-url"]];
  };
  try {
    assert.deepEqual(await seen("/api/old/abc"), ["/base/new/abc?from=old", "/api/new/abc?from=old"]);
    assert.deepEqual(await seen("/api/keep?x=1"), ["/base/svc/api/keep?x=1", "/svc/api/keep?x=1"]);
    assert.deepEqual((await seen("/api/switch", { "x-route": "beta-blue" }))[0], "/base/beta/blue");
    assert.deepEqual((await seen("/api/switch"))[0], "/base/default");
    assert.deepEqual((await seen("/api/other?y=2"))[0], "/base/other?y=2");
    await gw.waitForLog(
      /url_rewrites\[3\]: rewrite_to \\?"tyk:\/\/self\/elsewhere\\?" names a scheme and host/,
    );
    assert.deepEqual((await seen("/api/loop"))[0], "/base/elsewhere");
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});
