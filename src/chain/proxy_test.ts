import assert from "node:assert/strict";
import { type RawResponse, startRawHttpServer } from "../../tests/support/raw_http_server.ts";
import { UpstreamClient } from "../upstream/client.ts";
import { testCtx } from "./_test_ctx.ts";
import type { RequestCtx } from "./context.ts";
import { GatewayError, MESSAGES } from "./errors.ts";
import { createProxy, type ProxyOptions } from "./proxy.ts";
import { createUpstreamTarget } from "./upstream_url.ts";

/** A request routed to an API on `/api/`, from client 10.0.0.7. */
function routed(path: string, init: RequestInit = {}): RequestCtx {
  const ctx = testCtx(`http://gw.example${path}`, init);
  return { ...ctx, listenPath: "/api/", clientIp: "10.0.0.7" };
}

/** Runs `fn` with a proxy to `url` (listen path stripped) and closes its client afterwards. */
async function withProxy(
  url: string,
  options: Omit<ProxyOptions, "target">,
  fn: (proxy: (ctx: RequestCtx) => Promise<Response | GatewayError>) => Promise<void>,
): Promise<void> {
  const client = new UpstreamClient();
  const target = createUpstreamTarget(url, { stripListenPath: true, disableStripSlash: false });
  try {
    await fn(createProxy({ target, ...options }, client));
  } finally {
    client.close();
  }
}

Deno.test("createProxy() sends the request upstream, listen path stripped, X-Forwarded-For extended", async () => {
  await using upstream = await startRawHttpServer();
  await withProxy(`${upstream.url}/base`, {}, async (proxy) => {
    const ctx = routed("/api/items?a=1", { headers: { "x-forwarded-for": "192.0.2.1", "x-custom": "kept" } });
    const out = await proxy(ctx);
    assert.ok(out instanceof Response);
    assert.equal(await out.text(), "ok");
    const sent = upstream.requests[0];
    assert.deepEqual([sent.method, sent.target], ["GET", "/base/items?a=1"]);
    assert.equal(sent.header("x-forwarded-for"), "192.0.2.1, 10.0.0.7");
    assert.equal(sent.header("x-custom"), "kept");
    assert.equal(sent.header("host"), `127.0.0.1:${upstream.port}`);
  });
});

Deno.test("createProxy() drops hop-by-hop headers and keeps the client's Host only with preserve_host_header", async () => {
  await using upstream = await startRawHttpServer();
  const headers = {
    host: "gw.example",
    connection: "x-hop",
    "x-hop": "1",
    "keep-alive": "timeout=5",
    "x-end": "2",
  };
  await withProxy(upstream.url, { preserveHost: true }, async (proxy) => {
    await proxy(routed("/api/", { headers }));
    const sent = upstream.requests[0];
    assert.equal(sent.header("x-hop"), undefined);
    assert.equal(sent.header("keep-alive"), undefined);
    assert.equal(sent.header("x-end"), "2");
    assert.equal(sent.header("host"), "gw.example");
  });
});

Deno.test("createProxy() with strip_auth_data removes the key from header, query and cookie", async () => {
  await using upstream = await startRawHttpServer();
  const stripAuth = { header: "Authorization", param: "key", cookie: "sid" };
  await withProxy(upstream.url, { stripAuth }, async (proxy) => {
    await proxy(
      routed("/api/x?key=secret&keep=1", { headers: { authorization: "secret", cookie: "sid=s; a=b" } }),
    );
    const sent = upstream.requests[0];
    assert.equal(sent.target, "/x?keep=1");
    assert.equal(sent.header("authorization"), undefined);
    assert.equal(sent.header("cookie"), "a=b");
  });
});

Deno.test("createProxy() passes the upstream's status, headers and body through", async () => {
  await using upstream = await startRawHttpServer({
    respond: () => ({
      status: 418,
      headers: [["X-Up", "1"], ["Connection", "x-up-hop"], ["X-Up-Hop", "2"]],
      body: "tea",
    }),
  });
  await withProxy(upstream.url, {}, async (proxy) => {
    const out = await proxy(routed("/api/"));
    assert.ok(out instanceof Response);
    assert.equal(out.status, 418);
    assert.equal(out.headers.get("x-up"), "1");
    assert.equal(out.headers.get("x-up-hop"), null);
    assert.equal(await out.text(), "tea");
  });
});

Deno.test("createProxy() answers Tyk's 500 when the upstream refuses, and 504 when it is too slow", async () => {
  await withProxy("http://127.0.0.1:1", {}, async (proxy) => {
    const out = await proxy(routed("/api/"));
    assert.ok(out instanceof GatewayError);
    assert.deepEqual([out.status, out.message], [500, MESSAGES.proxyFailed]);
  });
  const release = Promise.withResolvers<RawResponse>();
  await using slow = await startRawHttpServer({ respond: () => release.promise });
  await withProxy(slow.url, { timeoutMs: 100 }, async (proxy) => {
    const out = await proxy(routed("/api/"));
    assert.ok(out instanceof GatewayError);
    assert.deepEqual([out.status, out.message], [504, MESSAGES.upstreamTimeout]);
  });
  release.resolve({ body: "late" });
});
