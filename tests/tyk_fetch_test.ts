/** End to end: `await TykFetch(request)` in async plugins (driver `javascript`) through the real gateway. */
import assert from "node:assert/strict";
import { defaultVersion, keylessApi, startGateway, withPlugins } from "./support/gateway.ts";
import { statusOf } from "./support/http.ts";
import { type RawHttpServer, startRawHttpServer } from "./support/raw_http_server.ts";
import { type Echo, startUpstream } from "./support/upstream.ts";

function fetcher(target: string): string {
  return `var fetcher = new TykJS.TykMiddleware.NewMiddleware({});
fetcher.NewProcessRequest(async function (request, session, spec) {
  if (request.URL.indexOf("/pair") !== -1) {
    const [a, b] = await Promise.all([
      TykFetch({ Method: "POST", Domain: "${target}", Resource: "/pair/a", Body: "one", Headers: { "x-n": "1" } }),
      TykFetch(JSON.stringify({ Domain: "${target}", Resource: "/pair/b" })),
    ]);
    request.SetHeaders["X-A"] = a.Code + " " + a.Body + " " + a.Headers["X-Served"][0];
    request.SetHeaders["X-B"] = b.code + " " + b.body;
  }
  if (request.URL.indexOf("/file") !== -1) {
    try {
      await TykFetch({ Domain: "file:///etc/hostname", Resource: "" });
    } catch (e) {
      request.SetHeaders["X-Error"] = String(e);
    }
  }
  if (request.URL.indexOf("/slow") !== -1) await TykFetch({ Domain: "${target}", Resource: "/slow" });
  if (request.URL.indexOf("/never") !== -1) await new Promise(function () {});
  return fetcher.ReturnData(request, {});
});
`;
}

const OTTO = `var probe = new TykJS.TykMiddleware.NewMiddleware({});
probe.NewProcessRequest(function (request, session, spec) {
  request.SetHeaders["X-Fetch"] = typeof TykFetch;
  return probe.ReturnData(request, {});
});
`;

function virtualSource(target: string): string {
  return `async function fetchedAnswer(request, session, config) {
  const got = await TykFetch({ Domain: "${target}", Resource: "/pair/solo" });
  return TykJsResponse({ Body: "virtual saw " + got.Body, Code: 200 }, {});
}
`;
}

Deno.test("TykFetch: parallel requests, TykMakeHttpRequest's shape, http(s) only, bounded by jsvm_timeout", async () => {
  const upstream = await startUpstream();
  const release = Promise.withResolvers<void>();
  const pairs = () => raw.requests.filter((r) => r.target === "/pair/a" || r.target === "/pair/b").length;
  const raw: RawHttpServer = await startRawHttpServer({
    respond: async (req) => {
      if (req.target === "/slow") await release.promise;
      // both requests of a pair must be in before either is answered: they were sent side by side
      else if (req.target !== "/pair/solo") await raw.waitUntil(() => pairs() % 2 === 0, 10_000);
      return { headers: [["X-Served", "raw"]], body: `got ${req.method} ${req.target} ${req.text()}` };
    },
  });
  const gw = await startGateway({
    conf: { enable_jsvm: true, jsvm_timeout: 1 },
    files: {
      "plugins/fetcher.js": fetcher(raw.url),
      "plugins/otto.js": OTTO,
      "plugins/virtual.js": virtualSource(raw.url),
    },
    apps: {
      "goja.json": withPlugins(keylessApi("goja", "/goja/", upstream.url), {
        driver: "javascript",
        pre: [{ name: "fetcher", path: "plugins/fetcher.js" }],
      }),
      "otto.json": withPlugins(keylessApi("otto", "/otto/", upstream.url), {
        pre: [{ name: "probe", path: "plugins/otto.js" }],
      }),
      "ve.json": keylessApi("ve", "/ve/", upstream.url, {
        custom_middleware: { driver: "javascript" },
        ...defaultVersion({
          virtual: [{
            path: "/answer",
            method: "GET",
            response_function_name: "fetchedAnswer",
            function_source_type: "file",
            function_source_uri: "plugins/virtual.js",
          }],
        }),
      }),
    },
  });
  try {
    const pair: Echo = await (await fetch(`${gw.url}/goja/pair`)).json();
    assert.equal(pair.headers["x-a"], "200 got POST /pair/a one raw");
    assert.equal(pair.headers["x-b"], "200 got GET /pair/b"); // header values lose the trailing space
    assert.deepEqual(raw.errors, [], "each request framed exactly");
    const a = raw.requests.find((r) => r.target === "/pair/a")!;
    assert.equal(a.header("x-n"), "1");
    assert.equal(a.header("content-length"), "3");

    const file: Echo = await (await fetch(`${gw.url}/goja/file`)).json();
    assert.match(file.headers["x-error"], /TykFetch failed: .*unsupported protocol scheme "file"/);

    const otto: Echo = await (await fetch(`${gw.url}/otto/x`)).json();
    assert.equal(
      otto.headers["x-fetch"],
      "undefined",
      "async plugins and TykFetch are for driver javascript",
    );

    const virtual = await fetch(`${gw.url}/ve/answer`);
    assert.equal(await virtual.text(), "virtual saw got GET /pair/solo ");

    const never = await fetch(`${gw.url}/goja/never`);
    assert.equal(never.status, 500, "a promise that cannot settle fails the call");
    await never.body?.cancel();
    await gw.waitForLog(/never settled/); // at once, not at the timeout

    const started = performance.now();
    const slow = fetch(`${gw.url}/goja/slow`);
    for (let i = 0; i < 3; i++) assert.equal(await statusOf(fetch(`${gw.url}/otto/x`)), 200);
    const stopped = await slow;
    assert.equal(stopped.status, 500);
    assert.deepEqual(await stopped.json(), { error: "Internal Server Error" });
    assert.ok(performance.now() - started < 5_000, "stopped by jsvm_timeout (1 s), not by the target");
    const slowConnection = raw.connections[raw.requests.find((r) => r.target === "/slow")!.connection];
    await raw.waitUntil(() => slowConnection.closed, 10_000);
    assert.equal((await fetch(`${gw.url}/goja/pair`)).status, 200, "the sandbox serves on");
  } finally {
    release.resolve();
    await gw.stop();
    await raw.close();
    await upstream.stop();
  }
});
