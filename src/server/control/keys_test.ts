import assert from "node:assert/strict";
import type { ApiHandle } from "../../chain/compile_api.ts";
import { withServices } from "../../chain/_test_ctx.ts";
import type { EventBus } from "../../events/bus.ts";
import { APIKEY_PREFIX, type KeyStore } from "../../keys/key_store.ts";
import type { Store } from "../../store/store.ts";
import { Router } from "../router.ts";
import { keysRoutes } from "./keys.ts";

const NOW = Date.UTC(2026, 0, 2, 3, 4, 5);
const RIGHTS = { "api-1": { api_id: "api-1", versions: ["Default"] } };

/** The /tyk/keys routes on a fresh store; `api-1` is served with a session_lifetime of 120 s. */
async function withKeysApi(
  conf: Record<string, unknown>,
  fn: (
    request: (path: string, init?: RequestInit) => Promise<Response>,
    parts: { store: Store; keyStore: KeyStore; fired: { name: string; key: unknown }[] },
  ) => Promise<void>,
): Promise<void> {
  await withServices(async ({ config, keyStore, store }) => {
    const fired: { name: string; key: unknown }[] = [];
    const events: EventBus = {
      wants: () => true,
      fire: (name, meta) => void fired.push({ name, key: (meta as { Key?: unknown }).Key }),
      close: () => Promise.resolve(),
    };
    const handle = { apiId: "api-1", orgId: "org-1", sessionLifetime: 120 } as ApiHandle;
    const app = keysRoutes({
      config,
      keyStore,
      store,
      events,
      current: () => ({ router: new Router<ApiHandle>([]), byId: new Map([["api-1", handle]]) }),
      now: () => NOW,
    });
    await fn((path, init) => Promise.resolve(app.request(path, init)), { store, keyStore, fired });
  }, conf);
}

const post = (body: unknown): RequestInit => ({ method: "POST", body: JSON.stringify(body) });
const put = (body: unknown): RequestInit => ({ method: "PUT", body: JSON.stringify(body) });

Deno.test("keysRoutes() POST /create stores a session and GET /{key} reads it back, quota reset", async () => {
  await withKeysApi({ hash_keys: false }, async (request, { fired }) => {
    const created = await request("/create", post({ org_id: "org-1", quota_max: 5, access_rights: RIGHTS }));
    assert.equal(created.status, 200);
    const body = await created.json();
    assert.deepEqual([body.status, body.action], ["ok", "added"]);
    assert.ok(body.key.startsWith("org-1"), body.key);

    const read = await request(`/${body.key}`);
    assert.equal(read.status, 200);
    const session = await read.json();
    assert.equal(session.quota_remaining, 5);
    assert.equal(session.date_created, new Date(NOW).toISOString());
    assert.deepEqual(Object.keys(session.access_rights), ["api-1"]);
    assert.deepEqual(fired, [{ name: "TokenCreated", key: body.key }]);
  });
});

Deno.test("keysRoutes() stores a key for the largest session_lifetime of its APIs", async () => {
  await withKeysApi({}, async (request, { store, keyStore }) => {
    const { key } = await (await request("/create", post({ org_id: "org-1", access_rights: RIGHTS }))).json();
    const ttl = await store.ttl(APIKEY_PREFIX + keyStore.storageId(key));
    assert.ok(ttl > 110 && ttl <= 120, `ttl ${ttl}`);
  });
});

Deno.test("keysRoutes() refuses a key without access rights, a malformed body and a short custom id", async () => {
  await withKeysApi({ allow_master_keys: false }, async (request) => {
    const master = await request("/create", post({ org_id: "org-1" }));
    assert.equal(master.status, 400);
    assert.deepEqual(await master.json(), {
      status: "error",
      message: "Failed to create key, keys must have at least one Access Rights record set.",
    });
    const malformed = await request("/", { method: "POST", body: "{ not json" });
    assert.equal(malformed.status, 400);
    assert.equal((await malformed.json()).message, "Request malformed");
    const short = await request("/ab", post({ org_id: "org-1", access_rights: RIGHTS }));
    assert.equal(short.status, 400);
    assert.match((await short.json()).message, /less than min_token_length/);
  });
});

Deno.test("keysRoutes() PUT /{key} resets the quota unless suppress_reset=1", async () => {
  await withKeysApi({ hash_keys: false }, async (request, { keyStore }) => {
    const { key } = await (await request("/my-custom-key", post({ org_id: "org-1", access_rights: RIGHTS })))
      .json();
    const stored = (await keyStore.get(key))!;
    stored.quota_renews = 42;
    stored.last_updated = "7";
    await keyStore.set(key, stored, 0);

    const kept = await request(`/${key}?suppress_reset=1`, put({ ...stored, quota_max: 9 }));
    assert.equal(kept.status, 200);
    assert.equal((await kept.json()).action, "modified");
    assert.deepEqual([(await keyStore.get(key))!.quota_renews, (await keyStore.get(key))!.last_updated], [
      42,
      "7",
    ]);

    await request(`/${key}`, put({ ...stored, quota_max: 9, quota_renewal_rate: 60 }));
    const reset = (await keyStore.get(key))!;
    assert.equal(reset.last_updated, String(Math.floor(NOW / 1000)));
    assert.equal(reset.quota_renews, Math.floor(NOW / 1000) + 60);
    assert.equal(reset.quota_remaining, 9);

    const missing = await request("/no-such-key", put(stored));
    assert.equal(missing.status, 404);
    assert.equal((await missing.json()).message, "Key is not found");
  });
});

Deno.test("keysRoutes() DELETE /{key} deletes once, then answers 404", async () => {
  await withKeysApi({ hash_keys: false }, async (request, { keyStore, fired }) => {
    const { key } = await (await request("/create", post({ org_id: "org-1", access_rights: RIGHTS }))).json();
    const deleted = await request(`/${key}`, { method: "DELETE" });
    assert.equal(deleted.status, 200);
    assert.deepEqual(await deleted.json(), { key, status: "ok", action: "deleted" });
    assert.equal(await keyStore.get(key), null);
    const again = await request(`/${key}`, { method: "DELETE" });
    assert.equal(again.status, 404);
    assert.equal((await again.json()).message, "There is no such key found");
    assert.deepEqual(fired.map((event) => event.name), ["TokenCreated", "TokenDeleted"]);
  });
});

Deno.test("keysRoutes() refuses hashed look-ups and listing that the hashing settings do not allow", async () => {
  await withKeysApi({ hash_keys: false }, async (request) => {
    const byHash = await request("/abc?hashed=1");
    assert.equal(byHash.status, 400);
    assert.equal((await byHash.json()).message, "Key requested by hash but key hashing is not enabled");
  });
  await withKeysApi({ hash_keys: true, enable_hashed_keys_listing: false }, async (request) => {
    const list = await request("/");
    assert.equal(list.status, 404);
    assert.match((await list.json()).message, /enable_hashed_keys_listing/);
  });
});

Deno.test("keysRoutes() answers 405 for a method a route does not take", async () => {
  await withKeysApi({}, async (request) => {
    const res = await request("/create", { method: "GET" });
    assert.equal(res.status, 405);
    assert.deepEqual(await res.json(), { status: "error", message: "Method not supported" });
  });
});
