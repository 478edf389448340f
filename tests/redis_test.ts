/**
 * End to end: gateways on a real redis-server (shared keys, group reload, Redis down at start and mid-run), on a
 * TLS-only one, and `storage` settings that stop start-up.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { keylessApi, runGatewayToExit, startGateway, type TestGateway, tokenApi } from "./support/gateway.ts";
import { statusOf } from "./support/http.ts";
import { hasOpenssl, hasRedisServer } from "./support/tools.ts";
import { redisCli, startRedis } from "./support/redis_server.ts";
import { makeTestCertificates, startTlsRedis, TLS_USER } from "./support/redis_tls.ts";
import { startUpstream } from "./support/upstream.ts";
import { waitUntil } from "./support/wait_until.ts";

const KEY_BODY = JSON.stringify({
  org_id: "default",
  access_rights: { tok: { api_id: "tok", api_name: "tok", versions: ["Default"] } },
  meta_data: { who: "shared" },
});

function redisConf(port: number) {
  return {
    storage: { type: "redis", host: "127.0.0.1", port },
    node_secret: "cluster-secret",
    hash_keys: true,
    enable_hashed_keys_listing: true,
    hash_key_function: "murmur64",
  };
}

Deno.test(
  { name: "two gateways on one Redis share keys and group reloads", ignore: !hasRedisServer() },
  async () => {
    const redis = await startRedis();
    const upstream = await startUpstream();
    const apps = { "t.json": tokenApi("tok", "/tok/", upstream.url) };
    const a = await startGateway({ conf: redisConf(redis.port), apps });
    const b = await startGateway({ conf: redisConf(redis.port), apps });
    try {
      const created = await (await a.admin("/tyk/keys/create", { method: "POST", body: KEY_BODY })).json();
      assert.ok(created.key_hash, "hash_keys answers with key_hash");
      assert.equal(await statusOf(fetch(`${b.url}/tok/`, { headers: { authorization: created.key } })), 200);
      assert.deepEqual((await (await b.admin(`/tyk/keys/${created.key}`)).json()).meta_data, {
        who: "shared",
      });

      await Deno.writeTextFile(
        join(b.dir, "apps", "new.json"),
        JSON.stringify(keylessApi("new", "/new/", upstream.url)),
      );
      await Deno.writeTextFile(
        join(a.dir, "apps", "new.json"),
        JSON.stringify(keylessApi("new", "/new/", upstream.url)),
      );
      const group = await a.admin("/tyk/reload/group");
      assert.deepEqual(await group.json(), { status: "ok", message: "" });
      await b.waitForLog("Reload requested by cluster notification");
      for (const gw of [a, b]) {
        await waitUntil(
          async () => (await statusOf(fetch(`${gw.url}/new/`))) === 200,
          `${gw.url}/new/ is served`,
        );
      }
    } finally {
      await a.stop();
      await b.stop();
      await upstream.stop();
      await redis.stop();
    }
  },
);

Deno.test({
  name:
    "cluster notifications reload only when signed with node_secret, any with allow_insecure_configs, none " +
    "with suppress_redis_signal_reload",
  ignore: !hasRedisServer(),
}, async () => {
  const redis = await startRedis();
  const storage = { type: "redis", host: "127.0.0.1", port: redis.port };
  const channel = "tyk.cluster.notifications";
  const subscribers = async () =>
    Number((await redisCli(redis.port, ["PUBSUB", "NUMSUB", channel])).split("\n")[1]);
  // Tyk's signature: hex SHA-256 of command, payload and node_secret
  const sign = (command: string, payload: string, secret: string) =>
    createHash("sha256").update(command + payload + secret).digest("hex");
  const gateways: TestGateway[] = [];
  try {
    // subscribing is part of start-up: a gateway that listens has subscribed
    gateways.push(await startGateway({ conf: { storage, suppress_redis_signal_reload: true } }));
    assert.equal(await subscribers(), 0, "suppress_redis_signal_reload subscribed anyway");
    gateways.push(await startGateway({ conf: { storage, node_secret: "cluster-secret" } }));
    gateways.push(
      await startGateway({ conf: { storage, node_secret: "cluster-secret", allow_insecure_configs: true } }),
    );
    const [muted, strict, insecure] = gateways;
    assert.equal(await subscribers(), 2);
    const messages = [
      { command: "GroupReload", payload: "" },
      {
        command: "GroupReload",
        payload: "",
        signature: sign("GroupReload", "", "another-secret"),
        algorithm: 5,
      },
      {
        command: "ApiUpdated",
        payload: "x",
        signature: sign("ApiUpdated", "y", "cluster-secret"),
        algorithm: 5,
      },
      { command: "ApiAdded", payload: "a", signature: sign("ApiAdded", "a", "cluster-secret"), algorithm: 5 },
    ];
    for (const message of messages) {
      const received = await redisCli(redis.port, ["PUBLISH", channel, JSON.stringify(message)]);
      assert.equal(Number(received), 2);
    }
    // delivered in order: once the signed one has reloaded, the others were handled
    const count = (gw: TestGateway, text: string) => gw.logs().split(text).length - 1;
    await strict.waitForLog("Reload requested by cluster notification");
    assert.equal(count(strict, "Reload requested by cluster notification"), 1);
    assert.match(strict.logs(), /Reload requested by cluster notification.*command=ApiAdded/);
    assert.equal(count(strict, "Ignoring an unsigned or wrongly signed cluster notification"), 3);
    await insecure.waitForLog(/(Reload requested by cluster notification[\s\S]*){4}/);
    assert.equal(count(muted, "cluster notification"), 0);
  } finally {
    for (const gw of gateways) await gw.stop();
    await redis.stop();
  }
});

Deno.test({
  name: "sessions are cached for a while unless local_session_cache.disable_cached_session_state",
  ignore: !hasRedisServer(),
}, async () => {
  const redis = await startRedis();
  const upstream = await startUpstream();
  const apps = { "t.json": tokenApi("tok", "/tok/", upstream.url) };
  const storage = { type: "redis", host: "127.0.0.1", port: redis.port };
  const cached = await startGateway({ conf: { storage }, apps });
  const uncached = await startGateway({
    conf: { storage, local_session_cache: { disable_cached_session_state: true } },
    apps,
  });
  try {
    const { key } = await (await cached.admin("/tyk/keys/create", { method: "POST", body: KEY_BODY })).json();
    for (const gw of [cached, uncached]) {
      assert.equal(await statusOf(fetch(`${gw.url}/tok/`, { headers: { authorization: key } })), 200);
    }
    // removed behind the gateways' backs: no API call, no cluster notification
    const records = (await redisCli(redis.port, ["--scan", "--pattern", "apikey-*"])).trim().split("\n");
    assert.equal(records.length, 1);
    assert.equal((await redisCli(redis.port, ["DEL", records[0]])).trim(), "1");
    assert.equal(await statusOf(fetch(`${uncached.url}/tok/`, { headers: { authorization: key } })), 403);
    // Tyk's session cache keeps a session for 10 s
    assert.equal(await statusOf(fetch(`${cached.url}/tok/`, { headers: { authorization: key } })), 200);
  } finally {
    await cached.stop();
    await uncached.stop();
    await upstream.stop();
    await redis.stop();
  }
});

Deno.test({
  name: "Redis unreachable at start: keyless serves, keyed answers a clear error, recovery works",
  ignore: !hasRedisServer(),
}, async () => {
  const redis = await startRedis();
  await redis.stop();
  const upstream = await startUpstream();
  const gw = await startGateway({
    conf: redisConf(redis.port),
    apps: {
      "k.json": keylessApi("open", "/open/", upstream.url),
      "t.json": tokenApi("tok", "/tok/", upstream.url),
    },
  });
  try {
    assert.equal(await statusOf(fetch(`${gw.url}/open/`)), 200);
    const keyed = await fetch(`${gw.url}/tok/`, { headers: { authorization: "some-key-value" } });
    assert.equal(keyed.status, 503);
    assert.match((await keyed.json()).error, /Key store unavailable/);
    const ready = await fetch(`${gw.url}/ready`);
    assert.equal(ready.status, 503);
    await ready.body?.cancel();
    await gw.waitForLog(/Redis unavailable/i);

    await redis.restart();
    let key = "";
    await waitUntil(async () => {
      const created = await gw.admin("/tyk/keys/create", { method: "POST", body: KEY_BODY });
      if (created.status !== 200) return (await created.body?.cancel(), false);
      key = (await created.json()).key;
      return true;
    }, "a key can be created again");
    assert.equal(await statusOf(fetch(`${gw.url}/tok/`, { headers: { authorization: key } })), 200);

    await redis.stop();
    assert.equal(await statusOf(fetch(`${gw.url}/open/`)), 200, "keyless keeps serving when Redis is lost");
    const lost = await fetch(`${gw.url}/tok/`, { headers: { authorization: "a-key-never-cached" } });
    assert.equal(lost.status, 503, "a key that is not cached cannot be checked while Redis is lost");
    assert.match((await lost.json()).error, /Key store unavailable/);
  } finally {
    await gw.stop();
    await upstream.stop();
    await redis.stop();
  }
});

Deno.test({
  name: "a gateway on a TLS-only Redis serves keys; a certificate it does not trust is one log line at start",
  ignore: !hasRedisServer() || !hasOpenssl(),
}, async () => {
  const certs = await makeTestCertificates();
  const redis = await startTlsRedis(certs);
  const upstream = await startUpstream();
  const storage = (caFile: string) => ({
    type: "redis",
    host: "127.0.0.1",
    port: redis.port,
    ...TLS_USER,
    use_ssl: true,
    ca_file: caFile,
    cert_file: certs.clientCert,
    key_file: certs.clientKey,
  });
  const apps = {
    "k.json": keylessApi("open", "/open/", upstream.url),
    "t.json": tokenApi("tok", "/tok/", upstream.url),
  };
  const gateways: TestGateway[] = [];
  try {
    const good = await startGateway({ conf: { ...redisConf(0), storage: storage(certs.caFile) }, apps });
    gateways.push(good);
    const created = await (await good.admin("/tyk/keys/create", { method: "POST", body: KEY_BODY })).json();
    assert.equal(await statusOf(fetch(`${good.url}/tok/`, { headers: { authorization: created.key } })), 200);

    const untrusting = await startGateway({
      conf: { ...redisConf(0), storage: storage(certs.otherCaFile), log_level: "debug" },
      apps,
    });
    gateways.push(untrusting);
    // three failed connection attempts: the warning had its chance to repeat
    await untrusting.waitForLog(/(Redis client error[\s\S]*){3}/);
    const warnings = untrusting.logs().split("\n").filter((line) => line.includes("level=warn"));
    assert.equal(
      warnings.filter((line) => line.includes("Redis unavailable")).length,
      1,
      warnings.join("\n"),
    );
    assert.match(
      warnings.find((line) => line.includes("Redis unavailable"))!,
      /TLS certificate of the server not accepted: .*storage\.ca_file and storage\.ssl_insecure_skip_verify/,
    );
    assert.equal(await statusOf(fetch(`${untrusting.url}/open/`)), 200);
    const keyed = await fetch(`${untrusting.url}/tok/`, { headers: { authorization: created.key } });
    assert.equal(keyed.status, 503);
    assert.match((await keyed.json()).error, /Key store unavailable/);
  } finally {
    for (const gw of gateways) await gw.stop();
    await upstream.stop();
    await redis.stop();
    await Deno.remove(certs.dir, { recursive: true });
  }
});

Deno.test({
  name: "storage settings that cannot be honoured stop start-up with the field named",
  ignore: !hasOpenssl(),
}, async () => {
  const certs = await makeTestCertificates();
  const conf = join(certs.dir, "tyk.conf");
  const run = async (storage: Record<string, unknown>) => {
    await Deno.writeTextFile(conf, JSON.stringify({ secret: "s", app_path: certs.dir, storage }));
    return await runGatewayToExit(conf);
  };
  try {
    const cluster = await run({ type: "redis", enable_cluster: true, addrs: ["127.0.0.1:1"], database: 2 });
    assert.equal(cluster.code, 1);
    assert.match(cluster.log, /storage\.database must be 0 with storage\.enable_cluster/);
    const wrongKey = await run({
      type: "redis",
      host: "127.0.0.1",
      port: 1,
      use_ssl: true,
      cert_file: certs.clientCert,
      key_file: certs.serverKey,
    });
    assert.equal(wrongKey.code, 1);
    assert.match(
      wrongKey.log,
      /level=error msg="Cannot start: Cannot use storage\.key_file \S+server\.key: it is not the key of storage\.cert_file/,
    );
  } finally {
    await Deno.remove(certs.dir, { recursive: true });
  }
});
