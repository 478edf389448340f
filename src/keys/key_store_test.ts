import assert from "node:assert/strict";
import { hasRedisServer } from "../../tests/support/tools.ts";
import { startRedis } from "../../tests/support/redis_server.ts";
import { openEmbeddedStore } from "../store/embedded.ts";
import { openStore } from "../store/open_store.ts";
import type { Store } from "../store/store.ts";
import { murmur32Legacy, murmur64 } from "./hash.ts";
import { KeyStore, type KeyStoreOptions } from "./key_store.ts";
import { accessDefinitionSchema, emptySession, parseSession, type Session } from "./session.ts";
import { generateToken } from "./token.ts";
import { capturingLog } from "../../tests/support/console_log.ts";

const root = await Deno.makeTempDir({ prefix: "portcullis-keys-" });
globalThis.addEventListener("unload", () => Deno.removeSync(root, { recursive: true }));
let opened = 0;

async function openTemp(): Promise<Store> {
  return await openEmbeddedStore(`${root}/${++opened}`);
}

function session(fields: Partial<Session> = {}): Session {
  return Object.assign(emptySession(), { org_id: "org1", rate: 10, per: 60 }, fields);
}

/** A clock tests move by hand. */
function clock(start = 1_000_000): { now: () => number; advance(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => t += ms };
}

async function withKeys(options: KeyStoreOptions, fn: (keys: KeyStore, store: Store) => Promise<void>) {
  await using store = await openTemp();
  await fn(new KeyStore(store, options), store);
}

Deno.test("storageId() hashes with hash_keys and keeps the name without", async () => {
  await using store = await openTemp();
  assert.equal(new KeyStore(store).storageId("default0123456789abcdef0123456789abcdef"), "325fb483");
  assert.equal(new KeyStore(store, { hashKeys: false }).storageId("rawkey"), "rawkey");
});

Deno.test("set() stores every field under apikey-<hash>; get() reads it back", async () => {
  await withKeys({}, async (keys, store) => {
    const name = "default0123456789abcdef0123456789abcdef";
    await keys.set(name, session({ alias: "alice" }), 0);
    const raw = JSON.parse((await store.get("apikey-325fb483"))!);
    assert.equal(raw.alias, "alice");
    assert.ok("throttle_retry_limit" in raw && "hmac_string" in raw, "v5.8 style: every field written");
    assert.equal((await keys.get(name))?.alias, "alice");
    assert.equal((await keys.get("325fb483", { hashed: true }))?.alias, "alice");
    assert.equal(await keys.get("missing-key"), null);
  });
});

Deno.test("set() gives the record the TTL asked for", async () => {
  await withKeys({ hashKeys: false }, async (keys, store) => {
    await keys.set("ttlkey", session(), 100);
    assert.ok([99, 100].includes(await store.ttl("apikey-ttlkey")));
  });
});

Deno.test("lookup() finds a legacy org+id key for its org", async () => {
  await withKeys({}, async (keys) => {
    const name = generateToken("53ac07777cbb8c2d53000002", "", "");
    await keys.set(name, session({ alias: "legacy" }), 0);
    const found = await keys.lookup(name, "53ac07777cbb8c2d53000002");
    assert.equal(found?.keyName, name);
    assert.equal(found?.session.alias, "legacy");
  });
});

Deno.test("lookup() finds a b64 token stored under its murmur64 hash", async () => {
  await withKeys({ hashKeyFunction: "murmur64" }, async (keys, store) => {
    const token = generateToken("org1", "", "murmur64");
    await keys.set(token, session({ alias: "b64" }), 0);
    assert.notEqual(await store.get(`apikey-${murmur64(token)}`), null);
    assert.equal((await keys.lookup(token, "org1"))?.session.alias, "b64");
  });
});

Deno.test("lookup() finds a custom-id key presented raw through TokenOrg mismatch", async () => {
  await withKeys({ hashKeyFunction: "murmur64" }, async (keys) => {
    const stored = generateToken("org1", "my-custom-key", "murmur64");
    await keys.set(stored, session({ alias: "custom" }), 0);
    const found = await keys.lookup("my-custom-key", "org1");
    assert.equal(found?.keyName, stored, "the session id downstream is the stored key name");
    assert.equal(found?.session.alias, "custom");
    assert.equal(await keys.lookup("my-custom-key", "org2"), null);
  });
  await withKeys({ hashKeyFunction: "" }, async (keys) => {
    await keys.set("org1my-custom-key", session({ alias: "legacy custom" }), 0);
    const found = await keys.lookup("my-custom-key", "org1");
    assert.equal(found?.keyName, "org1my-custom-key");
  });
});

Deno.test("lookup() tries hash_key_function_fallback forms after the raw token", async () => {
  await withKeys({ hashKeyFunction: "murmur64", hashKeyFunctionFallback: ["sha256"] }, async (keys) => {
    const stored = generateToken("org1", "old-custom", "sha256");
    await keys.set(stored, session({ alias: "fallback" }), 0);
    assert.equal((await keys.lookup("old-custom", "org1"))?.keyName, stored);
  });
});

Deno.test("lookup() prefers the custom-id form when both it and the raw token exist", async () => {
  await withKeys({ hashKeyFunction: "murmur64" }, async (keys) => {
    const stored = generateToken("org1", "dual-key", "murmur64");
    await keys.set("dual-key", session({ alias: "raw" }), 0);
    await keys.set(stored, session({ alias: "custom" }), 0);
    const found = await keys.lookup("dual-key", "org1");
    assert.equal(found?.keyName, stored);
    assert.equal(found?.session.alias, "custom");
  });
});

Deno.test("lookup() treats tokens shorter than max(min_token_length, 3) as not found", async () => {
  await withKeys({ hashKeys: false }, async (keys) => {
    await keys.set("ab", session(), 0);
    assert.equal(await keys.lookup("ab", ""), null);
  });
  await withKeys({ hashKeys: false, minTokenLength: 10 }, async (keys) => {
    await keys.set("shortkey1", session(), 0);
    assert.equal(await keys.lookup("shortkey1", ""), null);
    await keys.set("longenough", session(), 0);
    assert.notEqual(await keys.lookup("longenough", ""), null);
  });
});

Deno.test("lookup() serves from the cache until its TTL, then reads the store", async () => {
  const time = clock();
  await withKeys({ now: time.now }, async (keys, store) => {
    const name = "org1cachedkey0001";
    await keys.set(name, session({ alias: "v1" }), 0);
    assert.equal((await keys.lookup(name, "org1"))?.session.alias, "v1");
    // Changed behind the key store's back (another gateway): the cache still answers.
    await store.set(`apikey-${murmur32Legacy(name)}`, JSON.stringify(session({ alias: "v2" })));
    time.advance(9_999);
    assert.equal((await keys.lookup(name, "org1"))?.session.alias, "v1");
    time.advance(1);
    assert.equal((await keys.lookup(name, "org1"))?.session.alias, "v2");
  });
});

Deno.test("lookup() always reads the store with cacheTtlMs 0", async () => {
  await withKeys({ cacheTtlMs: 0, hashKeys: false }, async (keys, store) => {
    await keys.set("nocache-key", session({ alias: "v1" }), 0);
    assert.equal((await keys.lookup("nocache-key", ""))?.session.alias, "v1");
    await store.set("apikey-nocache-key", JSON.stringify(session({ alias: "v2" })));
    assert.equal((await keys.lookup("nocache-key", ""))?.session.alias, "v2");
  });
});

Deno.test("lookup() returns a copy the caller may change", async () => {
  await withKeys({ hashKeys: false }, async (keys) => {
    await keys.set("copy-key", session({ tags: ["a"] }), 0);
    const first = await keys.lookup("copy-key", "");
    first!.session.tags.push("changed");
    first!.session.rate = 0;
    const second = await keys.lookup("copy-key", "");
    assert.deepEqual(second!.session.tags, ["a"]);
    assert.equal(second!.session.rate, 10);
  });
});

Deno.test("evict() drops cached sessions named in a KeySpaceUpdateNotification", async () => {
  await withKeys({}, async (keys, store) => {
    const name = "org1evictme00001";
    const id = keys.storageId(name);
    await keys.set(name, session({ alias: "v1" }), 0);
    await keys.lookup(name, "org1");
    await store.set(`apikey-${id}`, JSON.stringify(session({ alias: "v2" })));
    keys.evict(["unrelated", `${id}:hashed`]);
    assert.equal((await keys.lookup(name, "org1"))?.session.alias, "v2");
  });
});

Deno.test("lookup() does not cache a read that overlapped an eviction", async () => {
  await withKeys({ hashKeys: false }, async (keys, store) => {
    await keys.set("overlap-key", session({ alias: "old" }), 0);
    const reading = keys.lookup("overlap-key", "");
    keys.evict(["overlap-key"]); // e.g. a KeySpaceUpdateNotification for a write elsewhere
    assert.equal((await reading)?.session.alias, "old");
    await store.set("apikey-overlap-key", JSON.stringify(session({ alias: "new" })));
    assert.equal((await keys.lookup("overlap-key", ""))?.session.alias, "new");
  });
});

Deno.test("set() evicts the cached session", async () => {
  await withKeys({ hashKeys: false }, async (keys) => {
    await keys.set("evict-on-set", session({ alias: "v1" }), 0);
    await keys.lookup("evict-on-set", "");
    await keys.set("evict-on-set", session({ alias: "v2" }), 0);
    assert.equal((await keys.lookup("evict-on-set", ""))?.session.alias, "v2");
  });
});

Deno.test("writeBack() writes only an existing record and never resurrects a deleted key", async () => {
  await withKeys({ hashKeys: false }, async (keys, store) => {
    assert.equal(await keys.writeBack("ghost-key", session(), 0), false);
    assert.equal(await store.get("apikey-ghost-key"), null);

    await keys.set("live-key", session({ quota_remaining: 10 }), 0);
    const found = await keys.lookup("live-key", "");
    found!.session.quota_remaining = 9;
    assert.equal(await keys.writeBack("live-key", found!.session, 100), true);
    assert.equal(JSON.parse((await store.get("apikey-live-key"))!).quota_remaining, 9);
    assert.ok([99, 100].includes(await store.ttl("apikey-live-key")));
    found!.session.quota_remaining = 1; // the caller's object is not the cached one
    assert.equal((await keys.lookup("live-key", ""))?.session.quota_remaining, 9);

    await keys.delete("live-key");
    assert.equal(await keys.writeBack("live-key", found!.session, 0), false);
    assert.equal(await keys.lookup("live-key", ""), null);
  });
});

Deno.test("writeBack() merges concurrent write-backs of one key; the newest wins", async () => {
  await withKeys({ hashKeys: false }, async (keys, store) => {
    await keys.set("busy-key", session({ quota_remaining: 100 }), 0);
    let writes = 0;
    const setIfExists = store.setIfExists.bind(store);
    store.setIfExists = (...args) => (writes++, setIfExists(...args));
    const results = await Promise.all(
      Array.from(
        { length: 20 },
        (_, i) => keys.writeBack("busy-key", session({ quota_remaining: 99 - i }), 0),
      ),
    );
    assert.deepEqual(results, Array(20).fill(true));
    assert.ok(writes < 20, `expected merged writes, got ${writes}`);
    assert.equal(JSON.parse((await store.get("apikey-busy-key"))!).quota_remaining, 80);
    assert.equal((await keys.lookup("busy-key", ""))?.session.quota_remaining, 80);
  });
});

Deno.test("delete() removes the record and its quota and sentinel counters", async () => {
  await withKeys({}, async (keys, store) => {
    const name = "org1deleteme0001";
    const id = keys.storageId(name);
    const scoped = session();
    scoped.access_rights.api1 = accessDefinitionSchema.parse({ api_id: "api1", allowance_scope: "api1" });
    await keys.set(name, scoped, 0);
    await keys.lookup(name, "org1");
    for (const counter of [`quota-${id}`, `quota-api1-${id}`, `rate-limit-${id}.BLOCKED`, `quota-other`]) {
      await store.set(counter, "1");
    }
    assert.equal(await keys.delete(name), true);
    assert.equal(await keys.lookup(name, "org1"), null, "the cache forgets it too");
    assert.deepEqual(await store.keys(""), ["quota-other"]);
    assert.equal(await keys.delete(name), false);
  });
});

Deno.test("find() with orgId names the custom-id form it found; delete() and set() take it, or an id", async () => {
  await withKeys({ hashKeyFunction: "murmur64" }, async (keys, store) => {
    const stored = generateToken("org1", "custom-del", "murmur64");
    await keys.set(stored, session(), 0);
    const found = await keys.find("custom-del", { orgId: "org1" });
    assert.deepEqual([found?.keyName, found?.hashed], [stored, false]);
    assert.equal(await keys.delete(found!.keyName), true);
    assert.equal(await store.get(`apikey-${murmur64(stored)}`), null);

    // legacy murmur32 ignores the last 1-3 bytes, so the names differ in their first four
    await keys.set(keys.storageId("org2byhash0001"), session({ alias: "by id" }), 0, { hashed: true });
    assert.equal((await keys.get("org2byhash0001"))?.alias, "by id");
    assert.equal(await keys.find(keys.storageId("org2byhash0001")), null, "an id is not a name");
    await keys.set("org1byhash00001", session(), 0);
    assert.equal(await keys.delete(keys.storageId("org1byhash00001"), { hashed: true }), true);
    assert.deepEqual(await keys.list(), [keys.storageId("org2byhash0001")]);
  });
});

Deno.test("get() with orgId finds a custom-id key like lookup()", async () => {
  await withKeys({ hashKeyFunction: "murmur64" }, async (keys) => {
    await keys.set(generateToken("org1", "custom-get", "murmur64"), session({ alias: "cg" }), 0);
    assert.equal(await keys.get("custom-get"), null);
    assert.equal((await keys.get("custom-get", { orgId: "org1" }))?.alias, "cg");
  });
});

Deno.test("resetQuota() deletes the counters and keeps the key", async () => {
  await withKeys({ hashKeys: false }, async (keys, store) => {
    const scoped = session();
    scoped.access_rights.a = accessDefinitionSchema.parse({ api_id: "a", allowance_scope: "pol1" });
    await keys.set("reset-key", scoped, 0);
    for (const counter of ["quota-reset-key", "quota-pol1-reset-key", "rate-limit-reset-key.BLOCKED"]) {
      await store.set(counter, "5");
    }
    await keys.resetQuota("reset-key");
    assert.deepEqual(await store.keys(""), ["apikey-reset-key"]);
    await store.set("quota-reset-key", "5");
    await keys.resetQuota("reset-key", { session: emptySession() });
    assert.equal(await store.get("quota-reset-key"), null);
  });
});

Deno.test("list() returns stored names without apikey-, filtered like Tyk", async () => {
  await withKeys({ hashKeys: false }, async (keys, store) => {
    await keys.set("org1aaa", session(), 0);
    await keys.set("org1bbb", session(), 0);
    await keys.set("org2ccc", session(), 0);
    await store.set("quota-org1aaa", "1");
    assert.deepEqual((await keys.list()).sort(), ["org1aaa", "org1bbb", "org2ccc"]);
    assert.deepEqual((await keys.list("org1")).sort(), ["org1aaa", "org1bbb"]);
  });
  await withKeys({ hashKeys: true }, async (keys) => {
    await keys.set("org1aaa", session(), 0);
    assert.deepEqual(await keys.list(), [murmur32Legacy("org1aaa")]);
    // Tyk hashes the filter too, so only a full key name finds its own hash.
    assert.deepEqual(await keys.list("org1aaa"), [murmur32Legacy("org1aaa")]);
  });
});

Deno.test("list() with apiId keeps only keys whose access_rights name that API", async () => {
  await withKeys({ hashKeys: true }, async (keys, store) => {
    const rights = (...apis: string[]) =>
      parseSession(JSON.stringify({
        org_id: "org1",
        access_rights: Object.fromEntries(apis.map((api_id) => [api_id, { api_id, versions: ["Default"] }])),
      }));
    await keys.set("aaaa0000", rights("api1"), 0);
    await keys.set("bbbb0000", rights("api1", "api2"), 0);
    await keys.set("cccc0000", rights("api2"), 0);
    await keys.set("dddd0000", session(), 0);
    await store.set(`apikey-${murmur32Legacy("eeee0000")}`, "{ not json");
    assert.deepEqual(
      (await keys.list("", { apiId: "api1" })).sort(),
      [murmur32Legacy("aaaa0000"), murmur32Legacy("bbbb0000")].sort(),
    );
  });
});

Deno.test("lookup() treats an unreadable record as not found", async () => {
  await withKeys({ hashKeys: false }, async (keys, store) => {
    await store.set("apikey-corrupt-key", '{"rate":"fast"}');
    const lines = await capturingLog(async (lines) => {
      assert.equal(await keys.lookup("corrupt-key", ""), null);
      return lines;
    });
    assert.match(
      lines.join("\n"),
      /Cannot read session .*apikey-corrupt-key.*Cannot parse session: rate: expected number/,
    );
  });
});

Deno.test("KeyStore calls reject when the store fails", async () => {
  const store = await openTemp();
  const keys = new KeyStore(store, { hashKeys: false });
  await store.close();
  await assert.rejects(keys.lookup("some-token", ""), /closed/);
  await assert.rejects(keys.get("some-token"), /closed/);
  await assert.rejects(keys.set("some-token", session(), 0), /closed/);
  await assert.rejects(keys.writeBack("some-token", session(), 0), /closed/);
  await assert.rejects(keys.delete("some-token"), /closed/);
  await assert.rejects(keys.list(), /closed/);
});

Deno.test("KeyStore works on Redis with Tyk's key names", { ignore: !hasRedisServer() }, async () => {
  const redis = await startRedis();
  try {
    await using store = await openStore({ type: "redis", host: "127.0.0.1", port: redis.port });
    const keys = new KeyStore(store, { hashKeyFunction: "murmur64" });
    const stored = generateToken("org1", "redis-custom", "murmur64");
    await keys.set(stored, session({ alias: "r" }), 60);
    assert.deepEqual(await store.keys("apikey-"), [`apikey-${murmur64(stored)}`]);
    const found = await keys.lookup("redis-custom", "org1");
    assert.equal(found?.keyName, stored);
    found!.session.quota_remaining = 7;
    assert.equal(await keys.writeBack(stored, found!.session, 60), true);
    assert.equal((await keys.get(stored))?.quota_remaining, 7);
    await store.set(`quota-${murmur64(stored)}`, "3");
    assert.equal(await keys.delete(stored), true);
    assert.deepEqual(await store.keys(""), []);
  } finally {
    await redis.stop();
  }
});
