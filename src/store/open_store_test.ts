import assert from "node:assert/strict";
import { freePort } from "../../tests/support/free_port.ts";
import { hasRedisServer } from "../../tests/support/tools.ts";
import { redisCli, startRedis } from "../../tests/support/redis_server.ts";
import { openStore } from "./open_store.ts";

Deno.test("openStore() opens the embedded store in storage.path", async () => {
  const dir = await Deno.makeTempDir({ prefix: "portcullis-open-" });
  try {
    await using store = await openStore({ type: "embedded", path: dir });
    assert.equal(store.kind, "embedded");
    await store.set("k", "v");
    assert.equal(await store.get("k"), "v");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openStore() rejects an embedded store without a path", async () => {
  await assert.rejects(openStore({ type: "embedded", path: "" }), RangeError);
});

Deno.test("openStore() opens Redis from host, port and timeout", { ignore: !hasRedisServer() }, async () => {
  const redis = await startRedis();
  try {
    await using store = await openStore({ type: "redis", host: "127.0.0.1", port: redis.port, timeout: 2 });
    assert.equal(store.kind, "redis");
    assert.equal(await store.ping(), true);
  } finally {
    await redis.stop();
  }
});

Deno.test("openStore() prefers storage.addrs over host and port", { ignore: !hasRedisServer() }, async () => {
  const redis = await startRedis();
  try {
    await using store = await openStore({
      type: "redis",
      host: "127.0.0.1",
      port: freePort(),
      addrs: [`127.0.0.1:${redis.port}`],
    });
    assert.equal(await store.ping(), true);
  } finally {
    await redis.stop();
  }
});

Deno.test("openStore() takes the deprecated storage.hosts map when addrs is empty", {
  ignore: !hasRedisServer(),
}, async () => {
  const redis = await startRedis();
  try {
    await using store = await openStore({
      type: "redis",
      port: freePort(),
      hosts: { "127.0.0.1": redis.port },
    });
    assert.equal(await store.ping(), true);
  } finally {
    await redis.stop();
  }
});

Deno.test("openStore() selects storage.database", { ignore: !hasRedisServer() }, async () => {
  const redis = await startRedis();
  try {
    await using store = await openStore({ type: "redis", host: "127.0.0.1", port: redis.port, database: 3 });
    await store.set("apikey-in-db3", "{}");
    assert.equal((await redisCli(redis.port, ["-n", "3", "get", "apikey-in-db3"])).trim(), "{}");
    assert.equal((await redisCli(redis.port, ["-n", "0", "exists", "apikey-in-db3"])).trim(), "0");
  } finally {
    await redis.stop();
  }
});

Deno.test(
  "openStore() uses one connection for commands and one for notifications, within any optimisation_max_active",
  { ignore: !hasRedisServer() },
  async () => {
    const redis = await startRedis();
    try {
      await using store = await openStore({
        type: "redis",
        host: "127.0.0.1",
        port: redis.port,
        optimisation_max_active: 2,
        optimisation_max_idle: 1,
      });
      const subscription = await store.subscribe("tyk.cluster.notifications", () => {});
      await Promise.all(Array.from({ length: 200 }, (_, i) => store.incr(`quota-${i % 7}`, 60)));
      const clients = (await redisCli(redis.port, ["client", "list"])).trim().split("\n")
        .filter((line) => !line.includes("cmd=client|list"));
      assert.equal(clients.length, 2, clients.join("\n"));
      await subscription.close();
    } finally {
      await redis.stop();
    }
  },
);
