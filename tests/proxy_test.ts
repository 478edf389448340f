/** End to end: the real gateway process proxying to a real upstream. */
import assert from "node:assert/strict";
import { keylessApi, startGateway } from "./support/gateway.ts";
import { freePort } from "./support/free_port.ts";
import { type Echo, startUpstream } from "./support/upstream.ts";
import { makeSelfSignedCert } from "./support/tls_cert.ts";
import { hasOpenssl } from "./support/tools.ts";
import { parseOrigin, readAll, UpstreamClient } from "../src/upstream/client.ts";
import { base64Text } from "./support/base64.ts";

Deno.test("keyless API: path stripping, query merging, forwarded headers and body reach the upstream", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({
    apps: { "echo.json": keylessApi("echo", "/echo/", `${upstream.url}/base/?fixed=1`) },
  });
  try {
    const res = await fetch(`${gw.url}/echo/users/42?a=1&a=2`, {
      method: "POST",
      headers: {
        "x-custom": "yes",
        "x-forwarded-for": "10.1.1.1",
        "connection": "keep-alive, x-drop",
        "x-drop": "1",
      },
      body: "hello",
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-upstream"), "echo");
    const echo: Echo = await res.json();
    assert.equal(echo.method, "POST");
    assert.equal(echo.path, "/base/users/42");
    assert.equal(echo.query, "fixed=1&a=1&a=2");
    assert.equal(echo.headers["x-custom"], "yes");
    assert.equal(echo.headers["x-forwarded-for"], "10.1.1.1, 127.0.0.1");
    assert.equal(echo.headers["x-drop"], undefined, "headers named by Connection are hop-by-hop");
    assert.equal(echo.headers["host"], `127.0.0.1:${upstream.port}`);
    assert.equal(base64Text(echo.body), "hello");
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

Deno.test("keyless API: the /<api_id>/ alias routes too, and unknown paths get Tyk's 404", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({ apps: { "a.json": keylessApi("alias1", "/a/", upstream.url) } });
  try {
    const echo: Echo = await (await fetch(`${gw.url}/alias1/x`)).json();
    assert.equal(echo.path, "/x");
    const missing = await fetch(`${gw.url}/nothing-here`);
    assert.equal(missing.status, 404);
    assert.equal(await missing.text(), "Not Found");
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

Deno.test("proxy streams large request and response bodies both ways", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({ apps: { "a.json": keylessApi("big", "/big/", upstream.url) } });
  try {
    const size = 48 * 1024 * 1024;
    let sent = 0;
    const chunk = new Uint8Array(256 * 1024).fill(7);
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent >= size) return c.close();
        c.enqueue(chunk);
        sent += chunk.length;
      },
    });
    const up = await fetch(`${gw.url}/big/count-body`, { method: "POST", body });
    assert.equal((await up.json()).bodyLength, size);
    const down = await fetch(`${gw.url}/big/bytes/${size}`);
    let received = 0;
    for await (const part of down.body!) received += part.byteLength;
    assert.equal(received, size);
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

Deno.test("proxy answers 500 when the upstream is unreachable and 504 when it is too slow", async () => {
  const upstream = await startUpstream();
  const deadPort = freePort();
  const gw = await startGateway({
    conf: { proxy_default_timeout: 1 },
    apps: {
      "dead.json": keylessApi("dead", "/dead/", `http://127.0.0.1:${deadPort}`),
      "slow.json": keylessApi("slow", "/slow/", upstream.url, {
        proxy: { listen_path: "/slow/", target_url: upstream.url, strip_listen_path: false },
      }),
    },
  });
  try {
    const dead = await fetch(`${gw.url}/dead/x`);
    assert.equal(dead.status, 500);
    assert.equal(dead.headers.get("content-type"), "application/json");
    assert.equal(await dead.text(), '{\n    "error": "There was a problem proxying the request"\n}');
    const slow = await fetch(`${gw.url}/slow/3000`);
    assert.equal(slow.status, 504);
    assert.equal((await slow.json()).error, "Upstream service reached hard timeout.");
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

Deno.test("upstream error statuses and gzip bodies pass through untouched", async () => {
  const abort = new AbortController();
  const ready = Promise.withResolvers<number>();
  const gzipped = new Uint8Array(
    await new Response(
      new Blob(["compressed hello"]).stream().pipeThrough(new CompressionStream("gzip")),
    ).arrayBuffer(),
  );
  const server = Deno.serve(
    {
      hostname: "127.0.0.1",
      port: 0,
      signal: abort.signal,
      onListen: (a) => ready.resolve(a.port),
    },
    (req) =>
      new URL(req.url).pathname === "/gz"
        ? new Response(gzipped, { headers: { "content-encoding": "gzip", "content-type": "text/plain" } })
        : new Response("teapot", { status: 418 }),
  );
  const port = await ready.promise;
  const gw = await startGateway({
    apps: { "a.json": keylessApi("pass", "/p/", `http://127.0.0.1:${port}`) },
  });
  try {
    const teapot = await fetch(`${gw.url}/p/x`);
    assert.equal(teapot.status, 418);
    assert.equal(await teapot.text(), "teapot");
    const client = Deno.createHttpClient({});
    const raw = await fetch(`${gw.url}/p/gz`, { headers: { "accept-encoding": "gzip" }, client });
    assert.equal(raw.headers.get("content-encoding"), "gzip");
    assert.equal(await raw.text(), "compressed hello");
    client.close();
  } finally {
    await gw.stop();
    abort.abort();
    await server.finished;
  }
});

Deno.test({
  name: "http_server_options.use_ssl serves APIs over TLS with the configured certificate",
  ignore: !hasOpenssl(),
}, async () => {
  const upstream = await startUpstream();
  const dir = await Deno.makeTempDir({ prefix: "portcullis-tls-" });
  await makeSelfSignedCert(dir);
  const gw = await startGateway({
    dir,
    conf: {
      http_server_options: {
        use_ssl: true,
        certificates: [{ domain_name: "localhost", cert_file: "cert.pem", key_file: "key.pem" }],
      },
    },
    apps: { "a.json": keylessApi("tls", "/tls/", upstream.url) },
  });
  // A self-signed certificate: the gateway's own upstream client, told to skip verification, is the probe
  const client = new UpstreamClient({ keepAlive: false });
  try {
    const res = await client.send(parseOrigin(`https://127.0.0.1:${gw.port}`), {
      method: "GET",
      target: "/tls/x",
      headers: new Headers(),
      body: null,
      insecure: true,
    });
    assert.equal(res.status, 200);
    const echo: Echo = JSON.parse(new TextDecoder().decode(await readAll(res.body)));
    assert.equal(echo.path, "/x");
    await assert.rejects(
      client.send(parseOrigin(`https://127.0.0.1:${gw.port}`), {
        method: "GET",
        target: "/tls/x",
        headers: new Headers(),
        body: null,
      }),
      /certificate|UnknownIssuer/i,
      "without insecure the self-signed certificate is refused",
    );
  } finally {
    client.close();
    await gw.stop();
    await upstream.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a client that goes away while the upstream is still thinking cancels the upstream request", async () => {
  const cancelled = Promise.withResolvers<void>();
  const arrived = Promise.withResolvers<void>();
  const abort = new AbortController();
  const ready = Promise.withResolvers<number>();
  const upstream = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: abort.signal, onListen: (a) => ready.resolve(a.port) },
    async (req) => {
      const answer = Promise.withResolvers<void>();
      const timer = setTimeout(answer.resolve, 5000);
      req.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        cancelled.resolve();
        answer.resolve();
      }, { once: true });
      arrived.resolve();
      await answer.promise;
      return new Response("too late");
    },
  );
  const gw = await startGateway({
    apps: { "a.json": keylessApi("slow", "/slow/", `http://127.0.0.1:${await ready.promise}`) },
  });
  try {
    const client = new AbortController();
    const res = fetch(`${gw.url}/slow/x`, { signal: client.signal }).catch((err) => err);
    await arrived.promise;
    client.abort();
    assert.equal(((await res) as Error).name, "AbortError");
    const gone = await Promise.race([
      cancelled.promise.then(() => true),
      new Promise((r) => setTimeout(() => r(false), 3000)),
    ]);
    assert.ok(gone, "the gateway closed its upstream request");
  } finally {
    await gw.stop();
    abort.abort();
    await upstream.finished.catch(() => {});
  }
});
