/**
 * End to end: gateways on a real Redis Cluster (3 primaries, one replica each) and on a real Sentinel setup,
 * each started once for this file — shared keys, key listing across primaries, group reloads, and a primary
 * killed while requests keep being served.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { keylessApi, startGateway, type TestGateway, tokenApi } from "./support/gateway.ts";
import { statusOf } from "./support/http.ts";
import { startRedisCluster } from "./support/redis_cluster.ts";
import { redisCli } from "./support/redis_server.ts";
import { hasRedisServer } from "./support/tools.ts";
import { startRedisSentinel } from "./support/redis_sentinel.ts";
import { startUpstream } from "./support/upstream.ts";
import { waitUntil } from "./support/wait_until.ts";

const ignore = !hasRedisServer();
if (ignore) console.warn("redis_ha_test.ts: skipped, redis-server or redis-cli is not installed");

function gatewayConf(storage: Record<string, unknown>) {
  return {
    storage: { type: "redis", timeout: 5, ...storage },
    node_secret: "cluster-secret",
    hash_keys: true,
    enable_hashed_keys_listing: true,
    hash_key_function: "murmur64",
    // every keyed request reads its session from Redis, so a failover is felt by each one
    local_session_cache: { disable_cached_session_state: true },
  };
}

const KEY_BODY = JSON.stringify({
  org_id: "default",
  access_rights: { tok: { api_id: "tok", api_name: "tok", versions: ["Default"] } },
  meta_data: { who: "shared" },
});

async function createKey(gw: TestGateway): Promise<{ key: string; key_hash: string }> {
  const res = await gw.admin("/tyk/keys/create", { method: "POST", body: KEY_BODY });
  assert.equal(res.status, 200, await res.clone().text());
  return await res.json();
}

/**
 * Sends keyed requests from four concurrent clients, round robin over the gateways and keys, until `until`
 * settles; returns how many of each status were seen.
 */
async function serveUntil(gateways: TestGateway[], keys: string[], until: Promise<unknown>) {
  let done = false;
  const settled = until.finally(() => done = true);
  const statuses: Record<string, number> = {};
  let sent = 0;
  const client = async () => {
    while (!done) {
      const i = sent++;
      const gw = gateways[i % gateways.length];
      const auth = keys[i % keys.length];
      const status = await statusOf(fetch(`${gw.url}/tok/`, { headers: { authorization: auth } }));
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
  };
  await Promise.all([client(), client(), client(), client()]);
  await settled;
  return statuses;
}

Deno.test("redis cluster: two gateways share keys and reloads, and keep serving through a failover", {
  ignore,
}, async () => {
  const cluster = await startRedisCluster();
  const upstream = await startUpstream();
  const apps = { "t.json": tokenApi("tok", "/tok/", upstream.url) };
  const conf = gatewayConf({ enable_cluster: true, addrs: cluster.addrs });
  const gateways: TestGateway[] = [];
  try {
    const a = await startGateway({ conf, apps });
    gateways.push(a);
    const b = await startGateway({ conf, apps });
    gateways.push(b);

    // Key names are random, so which primaries hold them is chance (12 keys miss one of three 2% of the
    // time): keys are added until every primary holds some
    const created = await Promise.all(Array.from({ length: 12 }, () => createKey(a)));
    const owners = new Set(await Promise.all(created.map((c) => cluster.primaryOf(`apikey-${c.key_hash}`))));
    while (owners.size < 3 && created.length < 100) {
      const more = await createKey(a);
      created.push(more);
      owners.add(await cluster.primaryOf(`apikey-${more.key_hash}`));
    }
    assert.equal(owners.size, 3, "the sessions live on all three primaries");
    for (const { key } of created) {
      assert.equal(await statusOf(fetch(`${b.url}/tok/`, { headers: { authorization: key } })), 200);
    }
    assert.deepEqual((await (await b.admin(`/tyk/keys/${created[0].key}`)).json()).meta_data, {
      who: "shared",
    });
    const listed = (await (await b.admin("/tyk/keys")).json()).keys as string[];
    assert.deepEqual(
      [...listed].sort(),
      created.map((c) => c.key_hash).sort(),
      "keys of every primary are listed",
    );

    for (const gw of gateways) {
      await Deno.writeTextFile(
        join(gw.dir, "apps", "new.json"),
        JSON.stringify(keylessApi("new", "/new/", upstream.url)),
      );
    }
    assert.deepEqual(await (await a.admin("/tyk/reload/group")).json(), { status: "ok", message: "" });
    await b.waitForLog("Reload requested by cluster notification");
    for (const gw of gateways) {
      await waitUntil(
        async () => (await statusOf(fetch(`${gw.url}/new/`))) === 200,
        `${gw.url}/new/ is served`,
      );
    }

    await cluster.synced();
    const victim = await cluster.primaryOf(`apikey-${created[0].key_hash}`);
    await cluster.kill(victim);
    const statuses = await serveUntil(gateways, created.map((c) => c.key), cluster.failedOver(victim));
    assert.deepEqual(Object.keys(statuses), ["200"], `every request is served: ${JSON.stringify(statuses)}`);

    // after the failover: a key made on one gateway works on the other, and group reloads still travel
    const after = await createKey(b);
    assert.equal(await statusOf(fetch(`${a.url}/tok/`, { headers: { authorization: after.key } })), 200);
    // Redis does not keep a message for a subscriber that is reconnecting: a gateway whose subscription was
    // on the killed node gets group reloads once it has subscribed again on a live one
    const subscribers = async () => {
      let count = 0;
      for (const { port } of cluster.nodes.filter((node) => node.port !== victim)) {
        count += Number(
          (await redisCli(port, ["PUBSUB", "NUMSUB", "tyk.cluster.notifications"])).split("\n")[1],
        );
      }
      return count;
    };
    await waitUntil(
      async () => (await subscribers()) === 2,
      "both gateways are subscribed after the failover",
    );
    const reloads = a.logs().split("Reload requested by cluster notification").length;
    assert.deepEqual(await (await b.admin("/tyk/reload/group")).json(), { status: "ok", message: "" });
    await a.waitForLog(new RegExp(`(Reload requested by cluster notification[\\s\\S]*){${reloads}}`));
    for (const gw of gateways) assert.doesNotMatch(gw.logs(), /Redis unavailable/);
  } finally {
    for (const gw of gateways) await gw.stop();
    await upstream.stop();
    await cluster.stop();
  }
});

Deno.test("redis sentinel: a gateway follows the primary the sentinels promote, without a restart", {
  ignore,
}, async () => {
  const setup = await startRedisSentinel({ password: "data-secret", sentinelPassword: "sentinel-secret" });
  const upstream = await startUpstream();
  let gw: TestGateway | undefined;
  try {
    gw = await startGateway({
      conf: gatewayConf({
        master_name: setup.masterName,
        addrs: setup.sentinelAddrs,
        password: "data-secret",
        sentinel_password: "sentinel-secret",
      }),
      apps: { "t.json": tokenApi("tok", "/tok/", upstream.url) },
    });
    const { key } = await createKey(gw);
    assert.equal(await statusOf(fetch(`${gw.url}/tok/`, { headers: { authorization: key } })), 200);
    await setup.synced();
    const old = await setup.killPrimary();
    const statuses = await serveUntil([gw], [key], setup.failedOver(old));
    assert.deepEqual(Object.keys(statuses), ["200"], `every request is served: ${JSON.stringify(statuses)}`);
    const after = await createKey(gw);
    assert.equal(await statusOf(fetch(`${gw.url}/tok/`, { headers: { authorization: after.key } })), 200);
  } finally {
    await gw?.stop();
    await upstream.stop();
    await setup.stop();
  }
});
