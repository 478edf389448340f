import assert from "node:assert/strict";
import { CounterCache, type CounterFile, type StoredValue } from "./_counter_cache.ts";

/** A file in memory that counts its reads and writes. */
function memoryFile(initial: Record<string, StoredValue> = {}) {
  const data = new Map(Object.entries(initial));
  const calls = { loads: 0, saves: 0 };
  const file: CounterFile = {
    load(key) {
      calls.loads++;
      return Promise.resolve(data.get(key) ?? null);
    },
    save(values) {
      calls.saves++;
      for (const { key, stored } of values) stored === null ? data.delete(key) : data.set(key, stored);
      return Promise.resolve();
    },
  };
  return { file, data, calls };
}

Deno.test("CounterCache.count() counts in memory and writes only on flush()", async () => {
  const { file, data, calls } = memoryFile();
  const cache = new CounterCache(file, { flushMs: 60_000 });
  try {
    const t0 = Date.now();
    assert.deepEqual(await cache.count("quota-a", 5000, t0), { used: 1, resetMs: 5000 });
    assert.deepEqual(await cache.count("quota-a", 5000, t0 + 1000), { used: 2, resetMs: 4000 });
    assert.equal(calls.loads, 1, "read from the file once");
    assert.equal(calls.saves, 0, "no write per count");
    await cache.flush();
    assert.deepEqual(data.get("quota-a"), { value: "2", expiresAt: t0 + 5000 });
    await cache.flush();
    assert.equal(calls.saves, 1, "nothing changed, nothing written");
  } finally {
    await cache.close();
  }
});

Deno.test("CounterCache.count() renews after the window, never without renewal, and restarts an immortal counter", async () => {
  const { file } = memoryFile({ "quota-old": { value: "7", expiresAt: 0 } });
  const cache = new CounterCache(file, { flushMs: 60_000 });
  try {
    const t0 = 1_000_000;
    await cache.count("quota-r", 1000, t0);
    assert.equal((await cache.count("quota-r", 1000, t0 + 999)).used, 2);
    assert.deepEqual(await cache.count("quota-r", 1000, t0 + 1000), { used: 1, resetMs: 1000 });
    assert.deepEqual(await cache.count("quota-n", 0, t0), { used: 1, resetMs: -1 });
    assert.deepEqual(await cache.count("quota-n", 0, t0 + 1e9), { used: 2, resetMs: -1 });
    assert.deepEqual(await cache.count("quota-old", 0, t0), { used: 8, resetMs: -1 });
    assert.deepEqual(await cache.count("quota-old", 1000, t0), { used: 1, resetMs: 1000 });
  } finally {
    await cache.close();
  }
});

Deno.test("CounterCache.write() reaches the file before it resolves; close() writes what is pending", async () => {
  const { file, data } = memoryFile({ "quota-x": { value: "3", expiresAt: 0 } });
  const cache = new CounterCache(file, { flushMs: 60_000 });
  assert.deepEqual(await cache.write("quota-x", null, 0), { written: true, existed: true });
  assert.equal(data.has("quota-x"), false);
  assert.deepEqual(await cache.write("quota-x", { value: "1", expiresAt: 0 }, 0, "exists"), {
    written: false,
    existed: false,
  });
  await cache.count("quota-y", 0, 0);
  await cache.close();
  assert.deepEqual(data.get("quota-y"), { value: "1", expiresAt: 0 });
});

Deno.test("CounterCache keeps counts pending when a write fails and reports the error", async () => {
  const { file, data } = memoryFile();
  let fail = true;
  const failing: CounterFile = {
    load: file.load,
    save: (values) => fail ? Promise.reject(new Error("disk full")) : file.save(values),
  };
  const cache = new CounterCache(failing, { flushMs: 60_000 });
  await cache.count("quota-z", 0, 0);
  await assert.rejects(cache.flush(), /disk full/);
  fail = false;
  await cache.close();
  assert.deepEqual(data.get("quota-z"), { value: "1", expiresAt: 0 });
});
