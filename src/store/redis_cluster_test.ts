/**
 * The Redis store on a real 3-primary Redis Cluster with one replica each, started once for this file: the
 * store contract, keys spread over every primary, pub/sub across nodes, a slot moving under traffic, a primary
 * killed under traffic, and the whole cluster down and back.
 */
import assert from "node:assert/strict";
import { startRedisCluster, type TestRedisCluster } from "../../tests/support/redis_cluster.ts";
import { capturingLog } from "../../tests/support/console_log.ts";
import { hasRedisServer } from "../../tests/support/tools.ts";
import { waitUntil } from "../../tests/support/wait_until.ts";
import { openStore } from "./open_store.ts";
import { stepLimitsContract } from "./limits_contract.ts";
import { stepStoreContract } from "./store_contract.ts";
import type { Store } from "./store.ts";

const ignore = !hasRedisServer();
if (ignore) console.warn("redis_cluster_test.ts: skipped, redis-server or redis-cli is not installed");

function openCluster(cluster: TestRedisCluster): Promise<Store> {
  return openStore({ type: "redis", enable_cluster: true, addrs: cluster.addrs, timeout: 5 });
}

/** Calls `call` back to back until `until` settles; returns how many calls succeeded and every failure. */
async function underTraffic(call: (i: number) => Promise<void>, until: Promise<unknown>) {
  let done = false;
  const settled = until.finally(() => done = true);
  let calls = 0;
  const failures: string[] = [];
  while (!done) {
    try {
      await call(calls);
    } catch (err) {
      failures.push(String(err));
      await new Promise((resolve) => setTimeout(resolve, 10)); // a call failing at once must not starve the loop
    }
    calls++;
  }
  await settled;
  return { calls, failures };
}

Deno.test("redis cluster: the Redis store on a 3-primary cluster", { ignore }, async (t) => {
  const cluster = await startRedisCluster();
  try {
    await stepStoreContract(t, async () => {
      await cluster.flush();
      return await openCluster(cluster);
    });
    // a key's rate limit and quota live on different nodes: checkLimits() makes one call per key there
    await stepLimitsContract(t, async () => {
      await cluster.flush();
      return await openCluster(cluster);
    });
    await cluster.flush();

    await t.step("keys() lists the keys of every primary; getMany() and delete() span slots", async () => {
      await using store = await openCluster(cluster);
      const names = Array.from({ length: 40 }, (_, i) => `apikey-spread-${i}`);
      for (const name of names) await store.set(name, name);
      const owners = new Set(await Promise.all(names.map((name) => cluster.primaryOf(name))));
      assert.equal(owners.size, 3, "the keys live on all three primaries");
      assert.deepEqual((await store.keys("apikey-spread-")).sort(), [...names].sort());
      assert.deepEqual(await store.getMany(names), names);
      assert.equal(await store.delete(...names.slice(0, 20)), 20);
      assert.deepEqual((await store.keys("apikey-spread-")).sort(), names.slice(20).sort());
    });

    await t.step("a message published through one node reaches a subscriber on another", async () => {
      await using publisher = await openCluster(cluster);
      await using subscriber = await openCluster(cluster);
      const got = Promise.withResolvers<string>();
      const subscription = await subscriber.subscribe("tyk.cluster.notifications", got.resolve);
      // a message only reaches a node that has subscribed: publish until the subscriber has listened
      const timer = setInterval(
        () => publisher.publish("tyk.cluster.notifications", "hello").catch(() => {}),
        50,
      );
      try {
        assert.equal(await got.promise, "hello");
      } finally {
        clearInterval(timer);
        await subscription.close();
      }
    });

    await t.step("two stores share a quota counter: every increment counts once", async () => {
      await using a = await openCluster(cluster);
      await using b = await openCluster(cluster);
      const counts = await Promise.all(
        Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? a : b).incr("quota-shared", 60)),
      );
      assert.deepEqual(counts.sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i + 1));
      assert.ok([59, 60].includes(await b.ttl("quota-shared")));
    });

    await t.step(
      "a slot moving to another primary under traffic: every call answers, nothing is lost",
      async () => {
        await using store = await openCluster(cluster);
        await store.set("apikey-moving", "session");
        const from = await cluster.primaryOf("quota-moving");
        const to = (await cluster.primaries()).find((port) => port !== from)!;
        const { calls, failures } = await underTraffic(async () => {
          await store.incr("quota-moving", 600);
        }, cluster.moveSlotOf("quota-moving", to));
        assert.deepEqual(failures, []);
        assert.equal(await cluster.primaryOf("quota-moving"), to);
        assert.equal(await store.get("quota-moving"), String(calls));
        assert.equal(await store.get("apikey-moving"), "session");
      },
    );

    await t.step(
      "a primary killed: calls keep answering while its replica takes over, nothing is lost",
      async () => {
        await using store = await openCluster(cluster);
        const names = Array.from({ length: 60 }, (_, i) => `apikey-kept-${i}`);
        for (const name of names) await store.set(name, name);
        await cluster.synced();
        const victim = await cluster.primaryOf("quota-failover");
        await cluster.kill(victim);
        const { calls, failures } = await underTraffic(async (i) => {
          await store.incr("quota-failover", 600);
          assert.equal(await store.get(names[i % names.length]), names[i % names.length]);
        }, cluster.failedOver(victim));
        assert.deepEqual(failures, []);
        assert.notEqual(await cluster.primaryOf("quota-failover"), victim);
        // every increment was answered by the promoted replica; one whose reply was lost may have counted twice
        assert.ok(Number(await store.get("quota-failover")) >= calls);
        assert.deepEqual(await store.getMany(names), names);
        assert.equal((await store.keys("apikey-kept-")).length, names.length);
        assert.equal(await store.ping(), true);
      },
    );
    await t.step(
      "the whole cluster down: calls fail, said once; back up: the store reconnects, said once",
      async () => {
        await capturingLog(async (lines) => {
          await using store = await openStore({
            type: "redis",
            enable_cluster: true,
            addrs: cluster.addrs,
            timeout: 1,
          });
          await store.set("k", "v");
          await Promise.all(cluster.nodes.map((node) => node.server.stop()));
          await assert.rejects(store.get("k"));
          const started = performance.now();
          await assert.rejects(store.get("k"), /Redis unavailable at 127\.0\.0\.1:\d+,.* \(cluster\)/);
          assert.ok(performance.now() - started < 500, "once given up, calls fail fast");
          assert.equal(await store.ping(), false);
          await Promise.all(cluster.nodes.map((node) => node.server.restart()));
          // without persistence the nodes come back empty, but with their cluster configuration
          await waitUntil(async () => (await store.get("k"), true), "the store answers again");
          await store.set("k", "again");
          assert.equal(await store.get("k"), "again");
          assert.equal(
            lines.filter((line) => line.includes("Redis unavailable")).length,
            1,
            lines.join("\n"),
          );
          assert.equal(
            lines.filter((line) => line.includes("Redis connection restored")).length,
            1,
            lines.join("\n"),
          );
        });
      },
    );
  } finally {
    await cluster.stop();
  }
});
