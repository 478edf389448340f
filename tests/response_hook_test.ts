/** End to end: JS response hooks (`custom_middleware.response`) through the real gateway and real Workers. */
import assert from "node:assert/strict";
import { defaultVersion, keylessApi, startGateway, withPlugins } from "./support/gateway.ts";
import { rawRequest, statusOf } from "./support/http.ts";
import { startRawHttpServer } from "./support/raw_http_server.ts";
import { startUpstream } from "./support/upstream.ts";

const MIDDLEWARE_ERROR = '{\n    "error": "Middleware error"\n}';

const REWRITE = `var rewrite = new TykJS.TykMiddleware.NewMiddleware({});
rewrite.NewProcessResponse(function (response, request, session, spec) {
  var seen = JSON.parse(response.Body);
  response.StatusCode = response.StatusCode + 1;
  response.SetHeaders["X-Seen"] = JSON.stringify({
    status: response.StatusCode - 1,
    upstream: response.Headers["X-Upstream"],
    cookie: response.Headers["Set-Cookie"],
    url: request.URL,
    method: request.Method,
    body: request.Body,
    api: spec.APIID
  });
  response.DeleteHeaders.push("X-Upstream");
  response.Body = "rewritten " + seen.method + " " + seen.path;
  return rewrite.ReturnResponseData(response, {});
});
`;

const MARK = `var mark = new TykJS.TykMiddleware.NewMiddleware({});
mark.NewProcessResponse(function (response, request, session, spec) {
  response.SetHeaders["X-Response-Hook"] = "ran";
  if (request.URL.indexOf("/sniff") !== -1) {
    response.DeleteHeaders.push("Content-Type");
    response.Body = "<html><body>sniffed</body></html>";
  }
  if (request.URL.indexOf("/throw") !== -1) throw new Error("response hook blew up");
  if (request.URL.indexOf("/spin") !== -1) { while (true) {} }
  return mark.ReturnResponseData(response, {});
});
`;

const PRE_FORCED = `var preForced = new TykJS.TykMiddleware.NewMiddleware({});
preForced.NewProcessRequest(function (request, session, spec) {
  if (request.URL.indexOf("/pre-forced") !== -1) {
    request.ReturnOverrides.ResponseCode = 200;
    request.ReturnOverrides.ResponseBody = "from the pre hook";
  }
  if (request.URL.indexOf("/pre-error") !== -1) {
    request.ReturnOverrides.ResponseCode = 403;
    request.ReturnOverrides.ResponseError = "denied";
  }
  return preForced.ReturnData(request, {});
});
`;

const POST_FORCED = `var postForced = new TykJS.TykMiddleware.NewMiddleware({});
postForced.NewProcessRequest(function (request, session, spec) {
  if (request.URL.indexOf("/post-forced") !== -1) {
    request.ReturnOverrides.ResponseCode = 202;
    request.ReturnOverrides.ResponseBody = "from the post hook";
  }
  return postForced.ReturnData(request, {});
});
`;

const VIRTUAL = `function virtualAnswer(request, session, config) {
  return TykJsResponse({ Body: "from the virtual endpoint", Code: 200 }, {});
}
`;

Deno.test("a response hook reads and changes status, headers and body, under both drivers", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({
    conf: { enable_jsvm: true },
    files: { "plugins/rewrite.js": REWRITE },
    apps: {
      "otto.json": withPlugins(keylessApi("otto", "/otto/", upstream.url), {
        response: [{ name: "rewrite", path: "plugins/rewrite.js" }],
      }),
      "goja.json": withPlugins(keylessApi("goja", "/goja/", upstream.url), {
        driver: "javascript",
        response: [{ name: "rewrite", path: "plugins/rewrite.js" }],
      }),
    },
  });
  try {
    for (const api of ["otto", "goja"]) {
      const res = await fetch(`${gw.url}/${api}/some/path?q=1`, { method: "POST", body: "in" });
      assert.equal(res.status, 201, api);
      const body = await res.text();
      assert.equal(body, "rewritten POST /some/path");
      assert.equal(res.headers.get("content-length"), String(new TextEncoder().encode(body).length));
      assert.equal(res.headers.get("x-upstream"), null, "deleted");
      assert.deepEqual(JSON.parse(res.headers.get("x-seen")!), {
        status: 200,
        upstream: ["echo"],
        cookie: ["a=1"],
        url: "/some/path?q=1",
        method: "POST",
        body: null,
        api,
      });
      assert.equal(res.headers.get("content-type"), "application/json", "the upstream's type is kept");
    }
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

Deno.test("response hooks run after post hooks' and virtual endpoints' answers, not pre hooks' or errors", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({
    conf: { enable_jsvm: true, jsvm_timeout: 1 },
    files: {
      "plugins/mark.js": MARK,
      "plugins/preForced.js": PRE_FORCED,
      "plugins/postForced.js": POST_FORCED,
      "plugins/virtual.js": VIRTUAL,
    },
    apps: {
      "hooked.json": withPlugins(
        keylessApi("hooked", "/hooked/", upstream.url, {
          ...defaultVersion({
            virtual: [{
              path: "/virtual",
              method: "GET",
              response_function_name: "virtualAnswer",
              function_source_type: "file",
              function_source_uri: "plugins/virtual.js",
            }],
          }),
        }),
        {
          pre: [{ name: "preForced", path: "plugins/preForced.js" }],
          post: [{ name: "postForced", path: "plugins/postForced.js" }],
          response: [{ name: "mark", path: "plugins/mark.js" }],
        },
      ),
      "other.json": keylessApi("other", "/other/", upstream.url),
    },
  });
  try {
    const ran = async (path: string) => {
      const res = await fetch(`${gw.url}/hooked${path}`);
      return { status: res.status, hook: res.headers.get("x-response-hook"), body: await res.text() };
    };
    assert.deepEqual(await ran("/post-forced"), { status: 202, hook: "ran", body: "from the post hook" });
    assert.deepEqual(await ran("/virtual"), { status: 200, hook: "ran", body: "from the virtual endpoint" });
    assert.equal((await ran("/proxied")).hook, "ran");
    assert.deepEqual(await ran("/pre-forced"), { status: 200, hook: null, body: "from the pre hook" });
    assert.deepEqual(await ran("/pre-error"), {
      status: 403,
      hook: null,
      body: '{\n    "error": "denied"\n}',
    });

    const sniffed = await fetch(`${gw.url}/hooked/sniff`);
    assert.equal(
      sniffed.headers.get("content-type"),
      "text/html; charset=utf-8",
      "a deleted type is sniffed",
    );
    assert.equal(await sniffed.text(), "<html><body>sniffed</body></html>");

    const thrown = await fetch(`${gw.url}/hooked/throw`);
    assert.equal(thrown.status, 500);
    assert.equal(await thrown.text(), MIDDLEWARE_ERROR);
    await gw.waitForLog(/response hook blew up/);

    const started = performance.now();
    const spinning = fetch(`${gw.url}/hooked/spin`);
    for (let i = 0; i < 3; i++) assert.equal(await statusOf(fetch(`${gw.url}/other/x`)), 200);
    const spun = await spinning;
    assert.equal(spun.status, 500);
    assert.equal(await spun.text(), MIDDLEWARE_ERROR);
    assert.ok(performance.now() - started < 5_000, "stopped within jsvm_timeout (1 s), not later");
    assert.equal((await ran("/again")).hook, "ran", "a fresh worker took over");
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

/** Bytes of a gzip stream of `text`. */
async function gzip(text: string): Promise<Uint8Array> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

Deno.test("bodies keep their bytes: gzip and binary through a response hook and through an API without one", async () => {
  const zipped = await gzip("hello compressed world ".repeat(50));
  const binary = Uint8Array.from({ length: 256 }, (_, i) => i);
  await using upstream = await startRawHttpServer({
    respond: (req) =>
      req.target.endsWith("/gzip")
        ? { headers: [["Content-Type", "text/plain"], ["Content-Encoding", "gzip"]], body: zipped }
        : { headers: [["Content-Type", "application/octet-stream"]], body: binary },
  });
  const gw = await startGateway({
    conf: { enable_jsvm: true },
    files: { "plugins/mark.js": MARK },
    apps: {
      "hooked.json": withPlugins(keylessApi("hooked", "/hooked/", upstream.url), {
        driver: "javascript",
        response: [{ name: "mark", path: "plugins/mark.js" }],
      }),
      "plain.json": keylessApi("plain", "/plain/", upstream.url),
    },
  });
  try {
    for (const api of ["hooked", "plain"]) {
      const gz = await rawRequest(
        gw.port,
        `GET /${api}/gzip HTTP/1.1\r\nHost: gw\r\nAccept-Encoding: gzip\r\n`,
      );
      assert.deepEqual(gz.body, zipped, `${api}: gzip bytes`);
      assert.ok(gz.headers.some(([n, v]) => n === "content-encoding" && v === "gzip"));
      const bin = await rawRequest(gw.port, `GET /${api}/bin HTTP/1.1\r\nHost: gw\r\n`);
      assert.deepEqual(bin.body, binary, `${api}: binary bytes`);
      assert.equal(
        bin.headers.some(([n, v]) => n === "x-response-hook" && v === "ran"),
        api === "hooked",
      );
    }
  } finally {
    await gw.stop();
  }
});

Deno.test("an API without a response hook streams the response: the client reads before the upstream ends", async () => {
  const release = Promise.withResolvers<void>();
  const abort = new AbortController();
  const ready = Promise.withResolvers<number>();
  const upstream = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    signal: abort.signal,
    onListen: (a) => ready.resolve(a.port),
  }, () => {
    let sent = false;
    return new Response(
      new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (!sent) {
            sent = true;
            controller.enqueue(new TextEncoder().encode("first;"));
            return;
          }
          await release.promise; // the rest only once the client has seen the first chunk
          controller.enqueue(new TextEncoder().encode("rest"));
          controller.close();
        },
      }),
    );
  });
  const gw = await startGateway({
    conf: { enable_jsvm: true, app_path: "apps" },
    apps: {
      "plain.json": keylessApi("plain", "/plain/", `http://127.0.0.1:${await ready.promise}`, {
        cache_options: { enable_cache: true, cache_timeout: 60 },
      }),
    },
  });
  try {
    // A buffering gateway would wait for the whole body, which the upstream holds back: bound the wait
    let timer: ReturnType<typeof setTimeout> | undefined;
    const firstChunk = (async () => {
      const res = await fetch(`${gw.url}/plain/stream`);
      const reader = res.body!.getReader();
      return { reader, first: await reader.read() };
    })();
    const outcome = await Promise.race([
      firstChunk,
      new Promise<null>((resolve) => timer = setTimeout(() => resolve(null), 10_000)),
    ]);
    clearTimeout(timer);
    assert.ok(outcome !== null, "the first chunk did not reach the client: the response was buffered");
    const { reader, first } = outcome;
    assert.equal(new TextDecoder().decode(first.value), "first;");
    release.resolve();
    let rest = "";
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      rest += new TextDecoder().decode(chunk.value);
    }
    assert.equal(rest, "rest");
  } finally {
    release.resolve();
    await gw.stop();
    abort.abort();
    await upstream.finished;
  }
});

Deno.test("with enable_jsvm false an API with a response hook answers 500 Middleware error", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({
    conf: { enable_jsvm: false },
    files: { "plugins/mark.js": MARK },
    apps: {
      "hooked.json": withPlugins(keylessApi("hooked", "/hooked/", upstream.url), {
        response: [{ name: "mark", path: "plugins/mark.js" }],
      }),
      "plain.json": keylessApi("plain", "/plain/", upstream.url),
    },
  });
  try {
    const res = await fetch(`${gw.url}/hooked/x`);
    assert.equal(res.status, 500);
    assert.equal(await res.text(), MIDDLEWARE_ERROR);
    assert.equal(await statusOf(fetch(`${gw.url}/plain/x`)), 200);
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});
