import assert from "node:assert/strict";
import { openEmbeddedStore } from "./embedded.ts";
import { runLimitsContract } from "./limits_contract.ts";
import { runStoreContract } from "./store_contract.ts";

const root = await Deno.makeTempDir({ prefix: "portcullis-embedded-" });
globalThis.addEventListener("unload", () => Deno.removeSync(root, { recursive: true }));
let opened = 0;

runStoreContract("embedded", () => openEmbeddedStore(`${root}/${++opened}`));

Deno.test("openEmbeddedStore() keeps values, TTLs and counters across close and reopen", async () => {
  const dir = `${root}/reopen/nested`;
  {
    await using store = await openEmbeddedStore(dir);
    await store.set("apikey-abc", '{"rate":1}');
    await store.set("with-ttl", "v", 100);
    await store.incr("quota-abc", 100);
    await store.incr("quota-abc", 100);
  }
  await using store = await openEmbeddedStore(dir);
  assert.equal(await store.get("apikey-abc"), '{"rate":1}');
  assert.ok([99, 100].includes(await store.ttl("with-ttl")));
  assert.equal(await store.incr("quota-abc"), 3);
  assert.ok([99, 100].includes(await store.ttl("quota-abc")));
});

Deno.test("openEmbeddedStore() kind is embedded and the file lives in the folder", async () => {
  const dir = `${root}/kind`;
  await using store = await openEmbeddedStore(dir);
  assert.equal(store.kind, "embedded");
  assert.ok((await Deno.stat(`${dir}/portcullis.kv`)).isFile);
});

runLimitsContract("embedded", () => openEmbeddedStore(`${root}/${++opened}`));

Deno.test("openEmbeddedStore() keeps quota counters across close and reopen", async () => {
  const dir = `${root}/quota-reopen`;
  const quota = { key: "quota-k", renewalSeconds: 100 };
  {
    await using store = await openEmbeddedStore(dir);
    for (let i = 0; i < 3; i++) await store.checkLimits(null, quota, Date.now());
  }
  await using store = await openEmbeddedStore(dir);
  assert.equal((await store.checkLimits(null, quota, Date.now())).quota!.used, 4);
  assert.ok([99, 100].includes(await store.ttl("quota-k")));
});

Deno.test("openEmbeddedStore() leaves no part of a long value behind once it is replaced or deleted", async () => {
  const dir = `${root}/parts`;
  {
    await using store = await openEmbeddedStore(dir);
    await store.set("a", "a".repeat(500_000));
    await store.set("a", "b".repeat(100_000)); // parts of the first value go
    await store.setIfExists("a", "short");
    await store.set("b", "c".repeat(100_000));
    await store.delete("b");
    await store.set("c", "d".repeat(100_000));
    assert.equal(await store.setIfAbsent("c", "e".repeat(100_000)), false); // parts written for nothing go too
    await store.set("d", "f".repeat(100_000));
    await store.set("d", "short"); // a short value replacing a long one
    await store.set("e", "g".repeat(100_000));
  }
  {
    await using store = await openEmbeddedStore(dir);
    await store.set("e", "short"); // the same, after a reopen
    assert.equal(await store.get("e"), "short");
  }
  const kv = await Deno.openKv(`${dir}/portcullis.kv`);
  try {
    const left = [];
    for await (const entry of kv.list({ prefix: ["p"] })) left.push(entry.key.slice(1, 2));
    assert.deepEqual(left, [["c"], ["c"], ["c"], ["c"]], "only the live value's four parts");
  } finally {
    kv.close();
  }
});
