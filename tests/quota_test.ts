/** End to end: quotas through the real gateway (exhaustion, renewal, restart, shared Redis, key API). */
import assert from "node:assert/strict";
import { spawnGateway, startGateway, type TestGateway, tokenApi } from "./support/gateway.ts";
import { createKey, hit, keySession, statuses } from "./support/keys.ts";
import { hasRedisServer } from "./support/tools.ts";
import { startRedis } from "./support/redis_server.ts";
import { startUpstream } from "./support/upstream.ts";

const QUOTA_EXCEEDED = '{\n    "error": "Quota exceeded"\n}';

async function liveRemaining(gw: TestGateway, key: string): Promise<number> {
  return (await (await gw.admin(`/tyk/keys/${key}`)).json()).quota_remaining;
}

Deno.test("quota: request quota_max+1 gets 403, renews after quota_renewal_rate, never renews with 0", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({ apps: { "t.json": tokenApi("tok", "/tok/", upstream.url) } });
  try {
    const renewing = await createKey(gw, keySession(["tok"], { quota_max: 2, quota_renewal_rate: 1 }));
    const never = await createKey(gw, keySession(["tok"], { quota_max: 2, quota_renewal_rate: 0 }));
    for (const key of [renewing, never]) {
      const out = await hit(`${gw.url}/tok/`, 3, key);
      assert.deepEqual(out.map(([s]) => s), [200, 200, 403]);
      assert.equal(out[2][1], QUOTA_EXCEEDED);
      assert.equal(await liveRemaining(gw, key), 0);
    }
    const refused = await fetch(`${gw.url}/tok/`, { headers: { authorization: never } });
    await refused.body?.cancel();
    assert.equal(refused.headers.get("x-ratelimit-limit"), null, "no quota headers on the 403");
    assert.equal(upstream.count(), 4);
    // The renewal period is one second: waiting it out is the behaviour under test.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    assert.deepEqual(await statuses(`${gw.url}/tok/`, 1, renewing), [200]);
    assert.equal(await liveRemaining(gw, renewing), 1);
    assert.deepEqual(await statuses(`${gw.url}/tok/`, 1, never), [403]);
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

Deno.test("quota: per-API quotas, ignored paths and disable_quota consume nothing of it", async () => {
  const upstream = await startUpstream();
  const ignored = {
    version_data: {
      not_versioned: true,
      versions: {
        Default: {
          name: "Default",
          use_extended_paths: true,
          extended_paths: { ignored: [{ path: "/free", method_actions: { GET: { action: "no_action" } } }] },
        },
      },
    },
  };
  const gw = await startGateway({
    apps: {
      "a.json": tokenApi("a", "/a/", upstream.url, ignored),
      "b.json": tokenApi("b", "/b/", upstream.url),
      "n.json": tokenApi("n", "/n/", upstream.url, { disable_quota: true }),
    },
  });
  try {
    const key = await createKey(
      gw,
      keySession(["a", "b", "n"], { quota_max: 3, quota_renewal_rate: 3600 }, {
        a: { quota_max: 1, quota_renewal_rate: 3600, rate: 0, per: 0 },
      }),
    );
    assert.deepEqual(await statuses(`${gw.url}/a/free`, 3, key), [200, 200, 200]);
    assert.deepEqual(await statuses(`${gw.url}/a/x`, 2, key), [200, 403]);
    assert.deepEqual(await statuses(`${gw.url}/n/x`, 5, key), [200, 200, 200, 200, 200]);
    assert.deepEqual(await statuses(`${gw.url}/b/x`, 4, key), [200, 200, 200, 403]);
    const shown = await (await gw.admin(`/tyk/keys/${key}`)).json();
    assert.equal(shown.quota_remaining, 0);
    assert.equal(shown.access_rights.a.limit.quota_remaining, 0);
    assert.equal(shown.access_rights.a.allowance_scope, "a");
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

Deno.test("quota: an update resets it unless suppress_reset; a deleted key's counters go with it", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({ apps: { "t.json": tokenApi("tok", "/tok/", upstream.url) } });
  try {
    const session = keySession(["tok"], { quota_max: 2, quota_renewal_rate: 3600 });
    const key = await createKey(gw, session, "quota-key");
    assert.deepEqual(await statuses(`${gw.url}/tok/`, 3, key), [200, 200, 403]);
    const stored = await (await gw.admin(`/tyk/keys/${key}`)).json();
    const put = (query: string) =>
      gw.admin(`/tyk/keys/${key}${query}`, { method: "PUT", body: JSON.stringify(stored) }).then((r) =>
        r.json()
      );
    await put("?suppress_reset=1");
    assert.deepEqual(await statuses(`${gw.url}/tok/`, 1, key), [403]);
    assert.equal(await liveRemaining(gw, key), 0);
    await put("");
    assert.equal(await liveRemaining(gw, key), 2);
    assert.deepEqual(await statuses(`${gw.url}/tok/`, 3, key), [200, 200, 403]);

    assert.equal((await gw.admin(`/tyk/keys/${key}`, { method: "DELETE" })).status, 200);
    const again = await createKey(gw, session, "quota-key");
    assert.equal(again, key);
    assert.deepEqual(await statuses(`${gw.url}/tok/`, 3, key), [200, 200, 403]);
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

Deno.test("quota: what was used before a restart still counts after it (embedded store)", async () => {
  const upstream = await startUpstream();
  const dir = await Deno.makeTempDir({ prefix: "portcullis-restart-" });
  let gw = await startGateway({ dir, apps: { "t.json": tokenApi("tok", "/tok/", upstream.url) } });
  try {
    const key = await createKey(gw, keySession(["tok"], { quota_max: 5, quota_renewal_rate: 3600 }));
    assert.deepEqual(await statuses(`${gw.url}/tok/`, 3, key), [200, 200, 200]);
    await gw.stop();
    gw = await spawnGateway(dir);
    assert.equal(await liveRemaining(gw, key), 2);
    assert.deepEqual(await statuses(`${gw.url}/tok/`, 3, key), [200, 200, 403]);
  } finally {
    await gw.stop();
    await upstream.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "quota: two gateways on one Redis share one quota exactly",
  ignore: !hasRedisServer(),
  fn: async () => {
    const redis = await startRedis();
    const upstream = await startUpstream();
    const conf = { storage: { type: "redis", host: "127.0.0.1", port: redis.port }, hash_keys: true };
    const apps = { "t.json": tokenApi("tok", "/tok/", upstream.url) };
    const a = await startGateway({ conf, apps });
    const b = await startGateway({ conf, apps });
    try {
      const key = await createKey(a, keySession(["tok"], { quota_max: 10, quota_renewal_rate: 3600 }));
      const results = await Promise.all(
        Array.from(
          { length: 30 },
          (_, i) =>
            fetch(`${(i % 2 ? a : b).url}/tok/`, { headers: { authorization: key } }).then(async (res) => {
              await res.body?.cancel();
              return res.status;
            }),
        ),
      );
      assert.equal(results.filter((s) => s === 200).length, 10);
      assert.equal(results.filter((s) => s === 403).length, 20);
      assert.equal(upstream.count(), 10);
      for (const gw of [a, b]) {
        assert.deepEqual(await statuses(`${gw.url}/tok/`, 1, key), [403]);
        assert.equal(await liveRemaining(gw, key), 0);
      }
    } finally {
      await a.stop();
      await b.stop();
      await upstream.stop();
      await redis.stop();
    }
  },
});
