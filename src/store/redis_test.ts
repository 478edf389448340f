import assert from "node:assert/strict";
import { capturingLog } from "../../tests/support/console_log.ts";
import { freePort } from "../../tests/support/free_port.ts";
import { hasRedisServer } from "../../tests/support/tools.ts";
import { waitUntil } from "../../tests/support/wait_until.ts";
import { startRedis, type TestRedis } from "../../tests/support/redis_server.ts";
import { openStore } from "./open_store.ts";
import { runLimitsContract } from "./limits_contract.ts";
import { runStoreContract } from "./store_contract.ts";
import type { Store } from "./store.ts";

const ignore = !hasRedisServer();

/** The store, closing its private redis-server with it. */
function stoppingWith(store: Store, redis: TestRedis): Store {
  const close = async () => {
    await store.close();
    await redis.stop();
  };
  return new Proxy(store, {
    get(target, prop) {
      if (prop === "close" || prop === Symbol.asyncDispose) return close;
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

runStoreContract("redis", async () => {
  const redis = await startRedis();
  return stoppingWith(await openStore({ type: "redis", host: "127.0.0.1", port: redis.port }), redis);
}, { ignore });

runLimitsContract("redis", async () => {
  const redis = await startRedis();
  return stoppingWith(await openStore({ type: "redis", host: "127.0.0.1", port: redis.port }), redis);
}, { ignore });

Deno.test("openRedisStore() stores Tyk's key names verbatim", { ignore }, async () => {
  const redis = await startRedis();
  await using store = stoppingWith(
    await openStore({ type: "redis", addrs: [`127.0.0.1:${redis.port}`] }),
    redis,
  );
  assert.equal(store.kind, "redis");
  await store.set("apikey-325fb483", "{}");
  assert.deepEqual(await store.keys("apikey-"), ["apikey-325fb483"]);
  await store.slidingLog("rate-limit-abc", 5, 60, Date.now());
  assert.deepEqual(await store.keys("rate-limit-"), ["rate-limit-abc"]);
  assert.ok([59, 60].includes(await store.ttl("rate-limit-abc")));
});

Deno.test(
  "openRedisStore() does not throw when Redis is unreachable; calls reject fast",
  { ignore },
  async () => {
    const port = freePort();
    await capturingLog(async (lines) => {
      await using store = await openStore({ type: "redis", host: "127.0.0.1", port });
      assert.equal(await store.ping(), false);
      const started = performance.now();
      await assert.rejects(
        store.get("k"),
        new RegExp(`Redis unavailable at 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`),
      );
      await assert.rejects(store.set("k", "v"), /Redis unavailable/);
      await assert.rejects(store.incr("k"), /Redis unavailable/);
      await assert.rejects(store.slidingLog("k", 1, 1, Date.now()), /Redis unavailable/);
      assert.ok(performance.now() - started < 1000, "calls must fail fast");
      const subscription = await store.subscribe("ch", () => {});
      await subscription.close();
      const warnings = lines.filter((line) => line.includes(`Redis unavailable at 127.0.0.1:${port}`));
      assert.equal(warnings.length, 1, lines.join("\n"));
      assert.match(warnings[0], /level=warn .*; retrying/);
    });
  },
);

Deno.test(
  "openRedisStore() recovers when Redis is killed and restarted on the same port",
  { ignore },
  async () => {
    const redis = await startRedis();
    await capturingLog(async (lines) => {
      await using store = stoppingWith(
        await openStore({ type: "redis", host: "127.0.0.1", port: redis.port }),
        redis,
      );
      const messages: string[] = [];
      let notify: () => void = () => {};
      const subscription = await store.subscribe("tyk.cluster.notifications", (message) => {
        messages.push(message);
        notify();
      });
      await store.set("k", "before");

      await redis.stop();
      await waitUntil(async () => !(await store.ping()), "the store notices Redis is gone");
      const started = performance.now();
      await assert.rejects(store.get("k"), /Redis unavailable/);
      assert.ok(performance.now() - started < 1000, "calls must fail fast while Redis is down");

      await redis.restart();
      await waitUntil(() => store.ping(), "the store reconnects");
      assert.equal(await store.get("k"), null, "the restarted Redis is empty");
      await store.set("k", "after");
      assert.equal(await store.get("k"), "after");

      // The subscriber connection comes back and re-subscribes on its own.
      await waitUntil(async () => {
        const delivered = new Promise<void>((resolve) => notify = resolve);
        await store.publish("tyk.cluster.notifications", "hello again");
        let timer: ReturnType<typeof setTimeout> | undefined;
        const timeout = new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), 100));
        const ok = await Promise.race([delivered.then(() => true), timeout]);
        clearTimeout(timer);
        return ok;
      }, "the subscription delivers again");
      assert.ok(messages.includes("hello again"));
      await subscription.close();

      assert.equal(lines.filter((line) => line.includes("Redis unavailable")).length, 1, lines.join("\n"));
      assert.equal(
        lines.filter((line) => line.includes("Redis connection restored")).length,
        1,
        lines.join("\n"),
      );
    });
  },
);

Deno.test(
  "openStore() gives up on a Redis that stops answering after storage.timeout, then fails fast and says so once",
  { ignore },
  async () => {
    const redis = await startRedis();
    await capturingLog(async (lines) => {
      await using store = stoppingWith(
        await openStore({ type: "redis", host: "127.0.0.1", port: redis.port, timeout: 1 }),
        redis,
      );
      await store.set("k", "v");
      redis.pause();
      try {
        const started = performance.now();
        await assert.rejects(store.get("k"), /no answer within 1 s/);
        const waited = performance.now() - started;
        assert.ok(waited >= 900 && waited < 2500, `the call waited ${waited} ms for a 1 s timeout`);
        const again = performance.now();
        await assert.rejects(store.get("k"), /Redis unavailable/);
        assert.ok(performance.now() - again < 500, "once given up, calls fail fast");
      } finally {
        redis.resume();
      }
      await waitUntil(() => store.ping(), "the store reconnects");
      assert.equal(await store.get("k"), "v");
      assert.equal(lines.filter((line) => line.includes("Redis unavailable")).length, 1, lines.join("\n"));
      assert.equal(
        lines.filter((line) => line.includes("Redis connection restored")).length,
        1,
        lines.join("\n"),
      );
    });
  },
);

Deno.test(
  "keys() on a Redis that stops answering mid-scan gives up after storage.timeout",
  { ignore },
  async () => {
    const redis = await startRedis();
    await capturingLog(async () => {
      await using store = stoppingWith(
        await openStore({ type: "redis", host: "127.0.0.1", port: redis.port, timeout: 1 }),
        redis,
      );
      await store.set("apikey-a", "{}");
      redis.pause();
      try {
        const started = performance.now();
        await assert.rejects(store.keys("apikey-"), /no answer within 1 s/);
        const waited = performance.now() - started;
        // one try and one retry of a scan, each given the timeout
        assert.ok(waited >= 900 && waited < 3500, `keys() waited ${waited} ms for a 1 s timeout`);
      } finally {
        redis.resume();
      }
    });
  },
);
