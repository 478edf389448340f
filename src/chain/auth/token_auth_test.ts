import assert from "node:assert/strict";
import { captureLog } from "../../capture_log.ts";
import { KeyStore } from "../../keys/key_store.ts";
import { emptySession } from "../../keys/session.ts";
import { openEmbeddedStore } from "../../store/embedded.ts";
import type { Store } from "../../store/store.ts";
import { testCtx, testDefinition } from "../_test_ctx.ts";
import type { RequestCtx } from "../context.ts";
import { GatewayError, MESSAGES } from "../errors.ts";
import { createTokenAuth, type TokenAuthConfig } from "./token_auth.ts";

const root = await Deno.makeTempDir({ prefix: "portcullis-token-auth-" });
globalThis.addEventListener("unload", () => Deno.removeSync(root, { recursive: true }));
let opened = 0;

const KEY = "custom-key-0123456789";

/** A key store holding `KEY` (org `org-1`, rate 7), with no session cache so every lookup reads the store. */
async function withKeys(fn: (keys: KeyStore, store: Store) => Promise<void>): Promise<void> {
  await using store = await openEmbeddedStore(`${root}/${++opened}`);
  const keys = new KeyStore(store, { cacheTtlMs: 0 });
  await keys.set(KEY, Object.assign(emptySession(), { org_id: "org-1", rate: 7 }), 0);
  await fn(keys, store);
}

function auth(fields: Record<string, unknown> = {}): TokenAuthConfig {
  return testDefinition({ auth: fields }).auth;
}

function request(headers: Record<string, string> = {}, query = ""): RequestCtx {
  return testCtx(`http://gw/a/x${query ? `?${query}` : ""}`, { headers });
}

Deno.test("createTokenAuth() attaches the session of a key sent in Authorization, Bearer or not", async () => {
  await withKeys(async (keyStore) => {
    const step = createTokenAuth("org-1", auth(), { keyStore, log: captureLog() });
    for (const value of [KEY, `Bearer ${KEY}`]) {
      const ctx = request({ authorization: value });
      ctx.sessionModified = true; // set by an earlier auth step: no longer the request's session
      assert.equal(await step(ctx), undefined);
      assert.equal(ctx.session?.rate, 7);
      assert.equal(ctx.sessionKey, KEY);
      assert.equal(ctx.sessionModified, false);
    }
  });
});

Deno.test("createTokenAuth() answers 401 without a key and 403 for a key it cannot find", async () => {
  await withKeys(async (keyStore) => {
    const failures: string[] = [];
    const step = createTokenAuth("org-1", auth(), {
      keyStore,
      log: captureLog(),
      onAuthFailure: (_ctx, key) => failures.push(key),
    });
    const missing = await step(request());
    assert.ok(missing instanceof GatewayError);
    assert.deepEqual([missing.status, missing.message], [401, MESSAGES.authFieldMissing]);
    const unknown = await step(request({ authorization: "no-such-key-0123456789" }));
    assert.ok(unknown instanceof GatewayError);
    assert.deepEqual([unknown.status, unknown.message], [403, MESSAGES.keyNotFound]);
    assert.deepEqual(failures, ["no-such-key-0123456789"]);
  });
});

Deno.test("createTokenAuth() reads the key from its own header, then the query, then a cookie", async () => {
  await withKeys(async (keyStore) => {
    const log = captureLog();
    const header = createTokenAuth("org-1", auth({ auth_header_name: "X-Key" }), { keyStore, log });
    assert.equal(await header(request({ "x-key": KEY })), undefined);
    assert.ok(await header(request({ authorization: KEY })) instanceof GatewayError);

    const param = createTokenAuth("org-1", auth({ use_param: true, param_name: "k" }), { keyStore, log });
    assert.equal(await param(request({}, `k=${KEY}`)), undefined);
    // the query wins over a wrong header
    assert.equal(await param(request({ authorization: "wrong-key-0123456789" }, `k=${KEY}`)), undefined);

    const cookie = createTokenAuth("org-1", auth({ use_cookie: true, cookie_name: "sid" }), {
      keyStore,
      log,
    });
    assert.equal(await cookie(request({ cookie: `a=1; sid=${KEY}` })), undefined);
  });
});

Deno.test("createTokenAuth() skips ignored endpoints and, without installSession, only checks the key", async () => {
  await withKeys(async (keyStore) => {
    const step = createTokenAuth("org-1", auth(), { keyStore, log: captureLog(), installSession: false });
    const ctx = request({ authorization: KEY });
    assert.equal(await step(ctx), undefined);
    assert.equal(ctx.session, null);
    const ignored = request();
    ignored.ignored = true;
    assert.equal(await step(ignored), undefined);
  });
});

Deno.test("createTokenAuth() uses override_messages for its errors", async () => {
  await withKeys(async (keyStore) => {
    const step = createTokenAuth("org-1", auth(), {
      keyStore,
      log: captureLog(),
      overrides: { "auth.auth_field_missing": { code: 418, message: "no key, no tea" } },
    });
    const out = await step(request());
    assert.ok(out instanceof GatewayError);
    assert.deepEqual([out.status, out.message], [418, "no key, no tea"]);
  });
});

Deno.test("createTokenAuth() answers 503 and logs when the key store cannot be read", async () => {
  await withKeys(async (keyStore, store) => {
    const log = captureLog();
    const step = createTokenAuth("org-1", auth(), { keyStore, log });
    await store.close();
    const out = await step(request({ authorization: KEY }));
    assert.ok(out instanceof GatewayError);
    assert.deepEqual([out.status, out.message], [503, MESSAGES.keyStoreUnavailable]);
    assert.equal(log.lines.filter((line) => line.level === "error").length, 1);
  });
});
