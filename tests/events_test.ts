/** End to end: Tyk's events at their raise points, delivered to log and webhook handlers by the real gateway. */
import assert from "node:assert/strict";
import { startRawHttpServer } from "./support/raw_http_server.ts";
import { freePort } from "./support/free_port.ts";
import { startGateway, tokenApi } from "./support/gateway.ts";
import { createKey, keySession, statuses } from "./support/keys.ts";
import { startUpstream } from "./support/upstream.ts";

/** A webhook target: a strict HTTP/1.1 server that records the bytes of every request it receives. */
async function startSink() {
  const server = await startRawHttpServer();
  return {
    hooks: server.requests,
    server,
    url: server.url,
    /** Resolves once `n` webhooks arrived in total; bounded so a missing one fails the test. */
    received: (n: number) => server.waitUntil(() => server.requests.length >= n),
    stop: () => server.close(),
  };
}

function defaultBody(event: string, message: string, path: string, key: string): string {
  return `\n{\n    "event": "${event}",\n    "message": "${message}",\n    "path": "${path}",\n` +
    `    "origin": "127.0.0.1",\n    "key": "${key}"\n}\n\n\n`;
}

const webhook = (target: string, extra: Record<string, unknown> = {}) => ({
  handler_name: "eh_web_hook_handler",
  handler_meta: { method: "POST", target_path: target, ...extra },
});

Deno.test("events: each key event reaches its webhook with Tyk's default body, and the log handler", async () => {
  const sink = await startSink();
  const target = sink.url;
  const upstream = await startUpstream();
  const events = {
    AuthFailure: [
      webhook(`${target}/auth`, { header_map: { "x-tenant": "blue" } }),
      { handler_name: "eh_log_handler", handler_meta: { prefix: "audit" } },
      { handler_name: "eh_log_handler", handler_meta: { prefix: "muted", disabled: true } },
    ],
    KeyExpired: [webhook(`${target}/expired`)],
    RatelimitExceeded: [webhook(`${target}/rate`)],
    QuotaExceeded: [webhook(`${target}/quota`)],
    VersionFailure: [webhook(`${target}/version`)],
  };
  const blackList = {
    not_versioned: true,
    versions: {
      Default: {
        name: "Default",
        use_extended_paths: true,
        extended_paths: {
          black_list: [{ path: "/secret", method_actions: { GET: { action: "no_action" } } }],
        },
      },
    },
  };
  const gw = await startGateway({
    apps: {
      "t.json": tokenApi("tok", "/tok/", upstream.url, {
        event_handlers: { events },
        version_data: blackList,
      }),
    },
  });
  try {
    assert.deepEqual(await statuses(`${gw.url}/tok/a`, 1, "unknown-key"), [403]);
    const expired = await createKey(gw, keySession(["tok"], { expires: Math.floor(Date.now() / 1000) - 10 }));
    assert.deepEqual(await statuses(`${gw.url}/tok/b`, 1, expired), [401]);
    const limited = await createKey(gw, keySession(["tok"], { rate: 1, per: 60 }));
    assert.deepEqual(await statuses(`${gw.url}/tok/c`, 2, limited), [200, 429]);
    const quota = await createKey(gw, keySession(["tok"], { quota_max: 1, quota_renewal_rate: 60 }));
    assert.deepEqual(await statuses(`${gw.url}/tok/d`, 2, quota), [200, 403]);
    assert.deepEqual(await statuses(`${gw.url}/tok/secret`, 1, quota), [403]);
    await sink.received(5);

    const byPath = new Map(sink.hooks.map((hook) => [hook.target, { ...hook, body: hook.text() }]));
    assert.equal(
      byPath.get("/auth")!.body,
      defaultBody("AuthFailure", "Auth Failure", "/tok/a", "unknown-key"),
    );
    assert.equal(
      byPath.get("/expired")!.body,
      defaultBody("KeyExpired", "Attempted access from expired key.", "/tok/b", expired),
    );
    assert.equal(
      byPath.get("/rate")!.body,
      defaultBody("RatelimitExceeded", "Rate Limit Exceeded", "/tok/c", limited),
    );
    assert.equal(
      byPath.get("/quota")!.body,
      defaultBody("QuotaExceeded", "Key Quota Limit Exceeded", "/tok/d", quota),
    );
    assert.equal(
      byPath.get("/version")!.body,
      defaultBody("VersionFailure", "Attempted access to disallowed version / path.", "/tok/secret", ""),
    );
    const auth = byPath.get("/auth")!;
    assert.equal(auth.method, "POST");
    assert.deepEqual(sink.server.errors, [], "every webhook is framed correctly");
    assert.equal(auth.framing, "content-length");
    assert.equal(auth.header("Content-Length"), String(auth.body.length));
    assert.equal(auth.header("User-Agent"), "Tyk-Hookshot");
    assert.equal(auth.header("Content-Type"), "application/json");
    const names = auth.headers.map(([name]) => name);
    assert.ok(names.includes("X-Tenant"), `header_map names are sent canonical: ${names}`);
    assert.equal(auth.header("X-Tenant"), "blue");
    await gw.waitForLog("audit:AuthFailure:unknown-key:127.0.0.1:/tok/a");
    assert.ok(!gw.logs().includes("muted:"), "a disabled handler is skipped");
  } finally {
    await gw.stop();
    await upstream.stop();
    await sink.stop();
  }
});

Deno.test("events: event_timeout sends an identical webhook once; a down target is logged, requests unaffected", async () => {
  const sink = await startSink();
  const target = sink.url;
  const upstream = await startUpstream();
  const down = `http://127.0.0.1:${freePort()}/hook`;
  const gw = await startGateway({
    apps: {
      "t.json": tokenApi("tok", "/tok/", upstream.url, {
        event_handlers: { events: { AuthFailure: [webhook(`${target}/auth`, { event_timeout: 60 })] } },
      }),
      "d.json": tokenApi("down", "/down/", upstream.url, {
        event_handlers: { events: { AuthFailure: [webhook(down)] } },
      }),
    },
  });
  try {
    assert.deepEqual(await statuses(`${gw.url}/tok/x`, 3, "same-key"), [403, 403, 403]);
    assert.deepEqual(await statuses(`${gw.url}/tok/x`, 1, "other-key"), [403]);
    await sink.received(2);
    assert.deepEqual(sink.hooks.map((hook) => JSON.parse(hook.text()).key).sort(), ["other-key", "same-key"]);

    assert.deepEqual(await statuses(`${gw.url}/down/x`, 3, "k-down"), [403, 403, 403]);
    await gw.waitForLog(/level=error msg="Webhook request failed: Cannot connect to .*Connection refused/);
    const key = await createKey(gw, keySession(["down"]));
    assert.deepEqual(await statuses(`${gw.url}/down/x`, 1, key), [200]);
    // A later identical event that the window suppressed would have arrived by now, after the others.
    assert.deepEqual(await statuses(`${gw.url}/tok/x`, 1, "third-key"), [403]);
    await sink.received(3);
    assert.equal(sink.hooks.length, 3);
  } finally {
    await gw.stop();
    await upstream.stop();
    await sink.stop();
  }
});

Deno.test("events: token events reach the gateway-wide handlers of tyk.conf, with a custom template", async () => {
  const sink = await startSink();
  const target = sink.url;
  const upstream = await startUpstream();
  const template =
    '{"event":"{{.Type}}","message":"{{.Meta.Message}}","org":"{{.Meta.Org}}","key":"{{.Meta.Key}}"}';
  const events = Object.fromEntries(
    ["TokenCreated", "TokenUpdated", "TokenDeleted"].map((name) => [
      name,
      [webhook(`${target}/token`, { template_path: "token.json" })],
    ]),
  );
  const gw = await startGateway({
    conf: { event_handlers: { events } },
    apps: { "t.json": tokenApi("tok", "/tok/", upstream.url) },
    files: { "token.json": template },
  });
  try {
    const key = await createKey(gw, keySession(["tok"], { org_id: "acme" }));
    await sink.received(1);
    const stored = await (await gw.admin(`/tyk/keys/${key}`)).json();
    await gw.admin(`/tyk/keys/${key}`, { method: "PUT", body: JSON.stringify(stored) });
    await sink.received(2);
    await gw.admin(`/tyk/keys/${key}`, { method: "DELETE" });
    await sink.received(3);
    assert.deepEqual(sink.hooks.map((hook) => hook.text()), [
      `{"event":"TokenCreated","message":"Key generated.","org":"acme","key":"${key}"}`,
      `{"event":"TokenUpdated","message":"Key modified.","org":"acme","key":"${key}"}`,
      `{"event":"TokenDeleted","message":"Key deleted.","org":"","key":"${key}"}`,
    ]);
    assert.equal(sink.hooks[0].header("content-type"), "application/json");
  } finally {
    await gw.stop();
    await upstream.stop();
    await sink.stop();
  }
});

Deno.test("events: a GET webhook carries its body with a matching Content-Length, as Go's client sends it", async () => {
  const sink = await startSink();
  const upstream = await startUpstream();
  const gw = await startGateway({
    apps: {
      "t.json": tokenApi("tok", "/tok/", upstream.url, {
        event_handlers: { events: { AuthFailure: [webhook(`${sink.url}/get?x=1`, { method: "get" })] } },
      }),
    },
  });
  try {
    assert.deepEqual(await statuses(`${gw.url}/tok/p`, 1, "wrong-key"), [403]);
    await sink.received(1);
    const [hook] = sink.hooks;
    const body = defaultBody("AuthFailure", "Auth Failure", "/tok/p", "wrong-key");
    assert.deepEqual([hook.method, hook.target, hook.version, hook.framing], [
      "GET",
      "/get?x=1",
      "HTTP/1.1",
      "content-length",
    ]);
    assert.equal(hook.text(), body);
    assert.equal(hook.header("content-length"), String(new TextEncoder().encode(body).length));
    const raw = new TextDecoder().decode(hook.raw);
    assert.ok(raw.endsWith(`\r\n\r\n${body}`), "the body follows the blank line and nothing else");
    assert.deepEqual(sink.server.errors, []);
  } finally {
    await gw.stop();
    await upstream.stop();
    await sink.stop();
  }
});
