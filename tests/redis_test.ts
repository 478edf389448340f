/** End to end: gateways on a real redis-server (shared keys, group reload, Redis down at start and mid-run). */
import assert from "node:assert/strict";
import { join } from "node:path";
import { keylessApi, startGateway, tokenApi } from "./support/gateway.ts";
import { statusOf } from "./support/http.ts";
import { startRedis } from "./support/redis_server.ts";
import { startUpstream } from "./support/upstream.ts";

const hasRedis = await Deno.stat("/usr/bin/redis-server").then(() => true, () => false);
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

Deno.test({ name: "two gateways on one Redis share keys and group reloads", ignore: !hasRedis }, async () => {
  const redis = await startRedis();
  const upstream = await startUpstream();
  const apps = { "t.json": tokenApi("tok", "/tok/", upstream.url) };
  const a = await startGateway({ conf: redisConf(redis.port), apps });
  const b = await startGateway({ conf: redisConf(redis.port), apps });
  try {
    const created = await (await a.admin("/tyk/keys/create", { method: "POST", body: KEY_BODY })).json();
    assert.ok(created.key_hash, "hash_keys answers with key_hash");
    assert.equal(await statusOf(fetch(`${b.url}/tok/`, { headers: { authorization: created.key } })), 200);
    assert.deepEqual((await (await b.admin(`/tyk/keys/${created.key}`)).json()).meta_data, { who: "shared" });

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
      for (let i = 0; i < 100 && (await statusOf(fetch(`${gw.url}/new/`))) !== 200; i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(await statusOf(fetch(`${gw.url}/new/`)), 200);
    }
  } finally {
    await a.stop();
    await b.stop();
    await upstream.stop();
    await redis.stop();
  }
});

Deno.test({
  name: "Redis unreachable at start: keyless serves, keyed answers a clear error, recovery works",
  ignore: !hasRedis,
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
    let created: Response | undefined;
    for (let i = 0; i < 100; i++) {
      created = await gw.admin("/tyk/keys/create", { method: "POST", body: KEY_BODY });
      if (created.status === 200) break;
      await created.body?.cancel();
      await new Promise((r) => setTimeout(r, 100));
    }
    const { key } = await created!.json();
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
