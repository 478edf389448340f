/** End to end: key rate limits and the API-wide global_rate_limit through the real gateway. */
import assert from "node:assert/strict";
import { keylessApi, startGateway, tokenApi } from "./support/gateway.ts";
import { createKey, hit, keySession } from "./support/keys.ts";
import { hasRedisServer } from "./support/tools.ts";
import { startRedis } from "./support/redis_server.ts";
import { startUpstream } from "./support/upstream.ts";

const RATE_LIMITED = '{\n    "error": "Rate Limit Exceeded"\n}';

for (const rolling of [false, true]) {
  Deno.test(`key rate limit (${rolling ? "rolling" : "default"} limiter): request rate+1 gets 429, a later window passes`, async () => {
    const upstream = await startUpstream();
    const gw = await startGateway({
      conf: { enable_redis_rolling_limiter: rolling },
      apps: { "t.json": tokenApi("tok", "/tok/", upstream.url) },
    });
    try {
      const key = await createKey(gw, keySession(["tok"], { rate: 3, per: 1 }));
      const first = await hit(`${gw.url}/tok/`, 4, key);
      assert.deepEqual(first.map(([status]) => status), [200, 200, 200, 429]);
      assert.equal(first[3][1], RATE_LIMITED);
      assert.equal(upstream.count(), 3, "the blocked request never reaches the upstream");
      // The window is one second: waiting it out is the behaviour under test.
      await new Promise((resolve) => setTimeout(resolve, 1100));
      assert.deepEqual((await hit(`${gw.url}/tok/`, 1, key)).map(([status]) => status), [200]);
    } finally {
      await gw.stop();
      await upstream.stop();
    }
  });
}

Deno.test("key rate limit: per-API limit wins, rate 0 or -1 after a PUT is unlimited, disable_rate_limit", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({
    apps: {
      "t.json": tokenApi("tok", "/tok/", upstream.url),
      "u.json": tokenApi("unl", "/unl/", upstream.url, { disable_rate_limit: true }),
    },
  });
  try {
    const session = keySession(["tok", "unl"], { rate: 100, per: 60 }, {
      tok: { rate: 2, per: 60, quota_max: -1 },
    });
    const key = await createKey(gw, session);
    assert.deepEqual((await hit(`${gw.url}/tok/`, 3, key)).map(([s]) => s), [200, 200, 429]);
    assert.deepEqual((await hit(`${gw.url}/unl/`, 5, key)).map(([s]) => s), [200, 200, 200, 200, 200]);

    for (const rate of [0, -1]) {
      const stored = await (await gw.admin(`/tyk/keys/${key}`)).json();
      stored.access_rights.tok.limit = { ...stored.access_rights.tok.limit, rate };
      const put = await gw.admin(`/tyk/keys/${key}`, { method: "PUT", body: JSON.stringify(stored) });
      assert.equal(put.status, 200);
      assert.deepEqual((await hit(`${gw.url}/tok/`, 5, key)).map(([s]) => s), [200, 200, 200, 200, 200]);
    }
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

Deno.test("global_rate_limit: the API's limit covers every caller, keyless too", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({
    apps: {
      "k.json": keylessApi("open", "/open/", upstream.url, { global_rate_limit: { rate: 2, per: 60 } }),
      "t.json": tokenApi("tok", "/tok/", upstream.url, { global_rate_limit: { rate: 3, per: 60 } }),
      "d.json": keylessApi("off", "/off/", upstream.url, {
        global_rate_limit: { rate: 1, per: 60, disabled: true },
      }),
    },
  });
  try {
    const open = await hit(`${gw.url}/open/`, 3);
    assert.deepEqual(open.map(([s]) => s), [200, 200, 429]);
    assert.equal(open[2][1], '{\n    "error": "API Rate Limit Exceeded"\n}');
    const a = await createKey(gw, keySession(["tok"]));
    const b = await createKey(gw, keySession(["tok"]));
    const both = [...await hit(`${gw.url}/tok/`, 2, a), ...await hit(`${gw.url}/tok/`, 2, b)];
    assert.deepEqual(both.map(([s]) => s), [200, 200, 200, 429]);
    assert.deepEqual((await hit(`${gw.url}/off/`, 3)).map(([s]) => s), [200, 200, 200]);
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

for (const rolling of [false, true]) {
  Deno.test({
    name: `two gateways on one Redis share one key rate limit exactly (${rolling ? "rolling" : "default"})`,
    ignore: !hasRedisServer(),
    fn: async () => {
      const redis = await startRedis();
      const upstream = await startUpstream();
      const conf = {
        storage: { type: "redis", host: "127.0.0.1", port: redis.port },
        enable_redis_rolling_limiter: rolling,
      };
      const apps = { "t.json": tokenApi("tok", "/tok/", upstream.url) };
      const a = await startGateway({ conf, apps });
      const b = await startGateway({ conf, apps });
      try {
        const key = await createKey(a, keySession(["tok"], { rate: 10, per: 60 }));
        const statuses = await Promise.all(
          Array.from(
            { length: 30 },
            (_, i) =>
              fetch(`${(i % 2 ? a : b).url}/tok/`, { headers: { authorization: key } }).then(async (res) => {
                await res.body?.cancel();
                return res.status;
              }),
          ),
        );
        assert.equal(statuses.filter((s) => s === 200).length, 10);
        assert.equal(statuses.filter((s) => s === 429).length, 20);
        assert.equal(upstream.count(), 10);
        for (const gw of [a, b]) {
          assert.deepEqual((await hit(`${gw.url}/tok/`, 1, key)).map(([s]) => s), [429]);
        }
      } finally {
        await a.stop();
        await b.stop();
        await upstream.stop();
        await redis.stop();
      }
    },
  });
}
