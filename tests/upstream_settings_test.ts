/**
 * End to end: the upstream settings of tyk.conf and the API definition, as a strict raw HTTP/1.1 upstream
 * sees them (header name case, Host, keep-alive, TLS verification, answers without a body).
 */
import assert from "node:assert/strict";
import { keylessApi, startGateway, withPlugins } from "./support/gateway.ts";
import { statusOf } from "./support/http.ts";
import { startRawHttpServer } from "./support/raw_http_server.ts";
import { startTlsAlertServer } from "./support/tls_alert_server.ts";
import { makeSelfSignedCert } from "./support/tls_cert.ts";
import { withDir } from "./support/temp_dir.ts";
import { hasOpenssl } from "./support/tools.ts";

const NAMES = `var names = new TykJS.TykMiddleware.NewMiddleware({});
names.NewProcessRequest(function (request, session, spec) {
  var base = spec.config_data.upstream;
  TykMakeHttpRequest(JSON.stringify({
    Method: "GET", Domain: base, Resource: "/made", Headers: { "X-CertificateOuid": "made" }
  }));
  TykBatchRequest(JSON.stringify({
    requests: [{ method: "GET", relative_url: base + "/batch", headers: { "X-CertificateOuid": "batch" } }]
  }));
  request.SetHeaders["X-CertificateOuid"] = "set";
  return names.ReturnData(request, {});
});
`;

/** The header names each request arrived with, by path. */
async function namesSeen(ignoreCanonical: boolean): Promise<Record<string, string[]>> {
  await using upstream = await startRawHttpServer();
  const gw = await startGateway({
    conf: { enable_jsvm: true, ignore_canonical_mime_header_key: ignoreCanonical },
    files: { "plugins/names.js": NAMES },
    apps: {
      "a.json": {
        ...keylessApi("names", "/names/", upstream.url),
        config_data: { upstream: upstream.url },
        custom_middleware: { driver: "otto", pre: [{ name: "names", path: "plugins/names.js" }] },
      },
    },
  });
  try {
    assert.equal(
      await statusOf(fetch(`${gw.url}/names/proxied`, { headers: { "x-client-lower": "1" } })),
      200,
    );
  } finally {
    await gw.stop();
  }
  assert.deepEqual(upstream.errors, []);
  return Object.fromEntries(upstream.requests.map((r) => [r.target, r.headers.map(([name]) => name)]));
}

Deno.test("header names reach the upstream in Go's canonical form, or as the plugin wrote them with ignore_canonical_mime_header_key", async () => {
  const canonical = await namesSeen(false);
  for (const path of ["/made", "/batch", "/proxied"]) {
    assert.ok(canonical[path].includes("X-Certificateouid"), `${path}: ${canonical[path]}`);
  }
  assert.ok(
    canonical["/proxied"].includes("X-Client-Lower"),
    "a client's header goes out canonical, as Go's server reads it",
  );
  assert.ok(canonical["/proxied"].includes("X-Forwarded-For"));

  const exact = await namesSeen(true);
  for (const path of ["/made", "/batch", "/proxied"]) {
    assert.ok(exact[path].includes("X-CertificateOuid"), `${path}: ${exact[path]}`);
  }
});

Deno.test("preserve_host_header sends the client's Host; otherwise the target's", async () => {
  await using upstream = await startRawHttpServer();
  const gw = await startGateway({
    apps: {
      "kept.json": keylessApi("kept", "/kept/", upstream.url, {
        proxy: {
          listen_path: "/kept/",
          target_url: upstream.url,
          strip_listen_path: true,
          preserve_host_header: true,
        },
      }),
      "target.json": keylessApi("target", "/target/", upstream.url),
    },
  });
  const client = Deno.createHttpClient({ allowHost: true });
  try {
    for (const path of ["/kept/x", "/target/x"]) {
      const res = await fetch(`${gw.url}${path}`, { client, headers: { host: "client.example:8080" } });
      assert.equal(res.status, 200);
      await res.body?.cancel();
    }
  } finally {
    client.close();
    await gw.stop();
  }
  assert.deepEqual(upstream.requests.map((r) => r.header("host")), [
    "client.example:8080",
    `127.0.0.1:${upstream.port}`,
  ]);
});

Deno.test("proxy_close_connections asks for Connection: close and opens a connection per request", async () => {
  await using upstream = await startRawHttpServer();
  const gw = await startGateway({
    conf: { proxy_close_connections: true },
    apps: { "a.json": keylessApi("close", "/close/", upstream.url) },
  });
  try {
    for (let i = 0; i < 3; i++) assert.equal(await statusOf(fetch(`${gw.url}/close/${i}`)), 200);
  } finally {
    await gw.stop();
  }
  assert.deepEqual(upstream.requests.map((r) => r.header("connection")), ["close", "close", "close"]);
  assert.deepEqual(upstream.requests.map((r) => r.connection), [0, 1, 2]);
});

Deno.test("max_idle_connections_per_host keeps that many idle upstream connections and closes the rest", async () => {
  const release = Promise.withResolvers<void>();
  await using upstream = await startRawHttpServer({
    respond: async (req) => {
      if (req.target.startsWith("/held")) await release.promise;
      return { body: "ok" };
    },
  });
  const gw = await startGateway({
    conf: { max_idle_connections_per_host: 2 },
    apps: { "a.json": keylessApi("idle", "/idle/", upstream.url) },
  });
  try {
    // three at once need three connections; once they are answered, two may stay
    const held = [1, 2, 3].map((i) => statusOf(fetch(`${gw.url}/idle/held${i}`)));
    await upstream.waitUntil(() => upstream.requests.length === 3);
    release.resolve();
    assert.deepEqual(await Promise.all(held), [200, 200, 200]);
    await upstream.waitUntil(() => upstream.connections.filter((c) => c.closed).length === 1);
    for (let i = 0; i < 4; i++) assert.equal(await statusOf(fetch(`${gw.url}/idle/again${i}`)), 200);
    // no connection was opened for them: they went over the two that were kept
    assert.equal(upstream.connections.length, 3);
    const closed = upstream.connections.find((c) => c.closed)!;
    assert.ok(upstream.requests.slice(3).every((r) => r.connection !== closed.id));
  } finally {
    release.resolve();
    await gw.stop();
  }
});

Deno.test("HEAD, 204 and 304 answers pass through without a body and the pooled connection stays in step", async () => {
  await using upstream = await startRawHttpServer({
    respond(req) {
      if (req.target === "/no-content") return { status: 204, headers: [["X-Seen", "204"]] };
      if (req.target === "/not-modified") return { status: 304, headers: [["ETag", '"v1"']] };
      return { headers: [["Content-Type", "text/plain"]], body: `body of ${req.target}` };
    },
  });
  const gw = await startGateway({ apps: { "a.json": keylessApi("nobody", "/nobody/", upstream.url) } });
  try {
    const head = await fetch(`${gw.url}/nobody/head`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), "");
    const noContent = await fetch(`${gw.url}/nobody/no-content`);
    assert.equal(noContent.status, 204);
    assert.equal(noContent.headers.get("x-seen"), "204");
    await noContent.body?.cancel();
    const notModified = await fetch(`${gw.url}/nobody/not-modified`);
    assert.equal(notModified.status, 304);
    assert.equal(notModified.headers.get("etag"), '"v1"');
    await notModified.body?.cancel();
    assert.equal(await (await fetch(`${gw.url}/nobody/after`)).text(), "body of /after");
  } finally {
    await gw.stop();
  }
  assert.deepEqual(upstream.errors, []);
  assert.equal(new Set(upstream.requests.map((r) => r.connection)).size, 1);
});

const TLS_CALLS = `var tlsCalls = new TykJS.TykMiddleware.NewMiddleware({});
tlsCalls.NewProcessRequest(function (request, session, spec) {
  var base = spec.config_data.upstream;
  var made = TykMakeHttpRequest(JSON.stringify({ Method: "GET", Domain: base, Resource: "/made" }));
  var batch = JSON.parse(TykBatchRequest(JSON.stringify({ requests: [{ method: "GET", relative_url: base + "/batch" }] })));
  request.ReturnOverrides.ResponseCode = 200;
  request.ReturnOverrides.ResponseBody = (made === undefined ? "failed" : JSON.parse(made).Code) + "," + batch[0].code;
  return tlsCalls.ReturnData(request, {});
});
`;

Deno.test({
  name:
    "an HTTPS upstream with a self-signed certificate is refused, by the proxy and the host API's HTTP calls, " +
    "unless proxy_ssl_insecure_skip_verify",
  ignore: !hasOpenssl(),
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "portcullis-upstream-tls-" });
  try {
    await using upstream = await startRawHttpServer({ tls: await makeSelfSignedCert(dir) });
    for (const insecure of [false, true]) {
      const gw = await startGateway({
        conf: { proxy_ssl_insecure_skip_verify: insecure, enable_jsvm: true },
        files: { "plugins/tlsCalls.js": TLS_CALLS },
        apps: {
          "a.json": keylessApi("tls", "/tls/", upstream.url),
          "c.json": withPlugins(keylessApi("calls", "/calls/", upstream.url), {
            pre: [{ name: "tlsCalls", path: "plugins/tlsCalls.js" }],
          }, { config_data: { upstream: upstream.url } }),
        },
      });
      try {
        const res = await fetch(`${gw.url}/tls/x`);
        const body = await res.text();
        assert.equal(res.status, insecure ? 200 : 500, `insecure ${insecure}: ${body}`);
        if (insecure) assert.equal(body, "ok");
        assert.equal(await (await fetch(`${gw.url}/calls/`)).text(), insecure ? "200,200" : "failed,0");
      } finally {
        await gw.stop();
      }
    }
    assert.deepEqual(
      upstream.requests.map((r) => r.target),
      ["/x", "/made", "/batch"],
      "only the insecure gateway got through",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "an HTTPS upstream that refuses the gateway with a TLS alert after the handshake gets 500s under " +
    "proxy_ssl_insecure_skip_verify, from the proxy and the host API, and the gateway serves on",
  ignore: !hasOpenssl(),
}, async () => {
  await withDir(async (dir) => {
    await using refusing = await startTlsAlertServer(dir);
    await using upstream = await startRawHttpServer();
    const gw = await startGateway({
      conf: { proxy_ssl_insecure_skip_verify: true, enable_jsvm: true },
      files: { "plugins/tlsCalls.js": TLS_CALLS },
      apps: {
        "a.json": keylessApi("alert", "/alert/", refusing.url),
        "c.json": withPlugins(keylessApi("calls", "/calls/", upstream.url), {
          pre: [{ name: "tlsCalls", path: "plugins/tlsCalls.js" }],
        }, { config_data: { upstream: refusing.url } }),
        "p.json": keylessApi("plain", "/plain/", upstream.url),
      },
    });
    try {
      // the alert arrives while the gateway's TLS socket has a request in flight or sits idle; either way
      // Deno's node:tls reports it as an error event, which would end the process if nothing listened
      for (let i = 0; i < 20; i++) {
        const res = await fetch(`${gw.url}/alert/x`);
        assert.equal(res.status, 500, `try ${i}`);
        assert.match(await res.text(), /There was a problem proxying the request/);
      }
      assert.equal(await (await fetch(`${gw.url}/calls/`)).text(), "failed,0");
      assert.equal(await (await fetch(`${gw.url}/plain/ok`)).text(), "ok");
      // the log says why: the server's alert, not only that the connection closed
      const why = /cause="UpstreamError: upstream closed the connection before answering: (.*)"/;
      const causes = gw.logs().split("\n").filter((line) => line.includes("api_id=alert"))
        .map((line) => why.exec(line)?.[1]);
      assert.deepEqual(causes, Array(20).fill("received fatal alert: CertificateRequired"));
    } finally {
      await gw.stop();
    }
  }, "portcullis-tls-alert-");
});
