/**
 * The Redis store through real sentinels (a primary with password, a replica, three sentinels with their own
 * password), started once for this file: the store contract, then a failover under traffic.
 */
import assert from "node:assert/strict";
import { capturingLog } from "../../tests/support/console_log.ts";
import { hasRedisServer } from "../../tests/support/tools.ts";
import { redisCli } from "../../tests/support/redis_server.ts";
import { startRedisSentinel, type TestRedisSentinel } from "../../tests/support/redis_sentinel.ts";
import { openStore } from "./open_store.ts";
import { stepStoreContract } from "./store_contract.ts";
import type { Store } from "./store.ts";

const ignore = !hasRedisServer();
if (ignore) console.warn("redis_sentinel_test.ts: skipped, redis-server or redis-cli is not installed");

const PASSWORD = "data-secret";
const SENTINEL_PASSWORD = "sentinel-secret";

function openSentinel(setup: TestRedisSentinel): Promise<Store> {
  return openStore({
    type: "redis",
    master_name: setup.masterName,
    addrs: setup.sentinelAddrs,
    password: PASSWORD,
    sentinel_password: SENTINEL_PASSWORD,
    timeout: 5,
  });
}

Deno.test("redis sentinel: the Redis store follows the primary the sentinels name", { ignore }, async (t) => {
  const setup = await startRedisSentinel({ password: PASSWORD, sentinelPassword: SENTINEL_PASSWORD });
  const flush = async () =>
    void await redisCli(await setup.primaryPort(), ["flushall"], ["-a", PASSWORD, "--no-auth-warning"]);
  try {
    await stepStoreContract(t, async () => {
      await flush();
      return await openSentinel(setup);
    });
    await flush();

    await t.step("a wrong sentinel_password is refused and said once", async () => {
      await capturingLog(async (lines) => {
        await using store = await openStore({
          type: "redis",
          master_name: setup.masterName,
          addrs: setup.sentinelAddrs,
          password: PASSWORD,
          sentinel_password: "wrong",
          timeout: 1,
        });
        assert.equal(await store.ping(), false);
        await assert.rejects(
          store.get("k"),
          /Redis unavailable at .*\(sentinel, primary "portcullis-primary"\)/,
        );
        assert.equal(lines.filter((line) => line.includes("Redis unavailable")).length, 1, lines.join("\n"));
      });
    });

    await t.step(
      "the primary killed: calls keep answering while the sentinels promote the replica",
      async () => {
        await using store = await openSentinel(setup);
        const messages: string[] = [];
        const subscription = await store.subscribe("tyk.cluster.notifications", (m) => messages.push(m));
        const names = Array.from({ length: 30 }, (_, i) => `apikey-kept-${i}`);
        for (const name of names) await store.set(name, name);
        await setup.synced();
        const old = await setup.killPrimary();
        let done = false;
        const failover = setup.failedOver(old).finally(() => done = true);
        let calls = 0;
        const failures: string[] = [];
        while (!done) {
          try {
            await store.incr("quota-failover", 600);
          } catch (err) {
            failures.push(String(err));
            await new Promise((resolve) => setTimeout(resolve, 10));
          }
          calls++;
        }
        const promoted = await failover;
        assert.notEqual(promoted, old);
        assert.deepEqual(failures, []);
        assert.ok(Number(await store.get("quota-failover")) >= calls);
        assert.deepEqual(await store.getMany(names), names);
        // cluster notifications reach the new primary's subscribers too
        const delivered = Promise.withResolvers<void>();
        const timer = setInterval(() => {
          if (messages.includes("after failover")) delivered.resolve();
          else store.publish("tyk.cluster.notifications", "after failover").catch(() => {});
        }, 100);
        try {
          await delivered.promise;
        } finally {
          clearInterval(timer);
          await subscription.close();
        }
      },
    );
  } finally {
    await setup.stop();
  }
});
