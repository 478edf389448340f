import assert from "node:assert/strict";
import { testCtx } from "../_test_ctx.ts";
import { emptySession, type Session } from "../../keys/session.ts";
import { openEmbeddedStore } from "../../store/embedded.ts";
import type { Store } from "../../store/store.ts";
import type { RequestCtx } from "../context.ts";
import { GatewayError } from "../errors.ts";
import { createKeyLimits, type KeyLimitsOptions } from "./key_limits.ts";

const root = await Deno.makeTempDir({ prefix: "portcullis-key-limits-" });
globalThis.addEventListener("unload", () => Deno.removeSync(root, { recursive: true }));
let opened = 0;

function keyCtx(session: Partial<Session>): RequestCtx {
  const ctx = testCtx("http://gw/api/x");
  ctx.session = { ...emptySession(), ...session } as Session;
  ctx.sessionKey = "key-1";
  return ctx;
}

/** A clock the test moves. */
function clock(start = Date.now()) {
  let t = start;
  return { now: () => t, advance: (ms: number) => t += ms };
}

async function withStore(fn: (store: Store) => Promise<void>): Promise<void> {
  await using store = await openEmbeddedStore(`${root}/${++opened}`);
  await fn(store);
}

function options(store: Store, extra: Partial<KeyLimitsOptions> = {}): KeyLimitsOptions {
  return { store, keyId: (name) => `id-${name}`, limiter: "window", ...extra };
}

for (const limiter of ["window", "sliding"] as const) {
  Deno.test(`createKeyLimits() (${limiter}) answers 429 to request rate+1 and passes once per has gone by`, () =>
    withStore(async (store) => {
      const time = clock();
      const limited: string[] = [];
      const step = createKeyLimits(options(store, {
        limiter,
        now: time.now,
        onRateLimited: (_ctx, key) => limited.push(key),
      }))!;
      const run = async () => {
        const out = await step(keyCtx({ rate: 2, per: 10, quota_max: -1 }));
        return out instanceof GatewayError ? `${out.status} ${out.message}` : "ok";
      };
      assert.deepEqual([await run(), await run(), await run()], ["ok", "ok", "429 Rate Limit Exceeded"]);
      assert.deepEqual(limited, ["key-1"]);
      time.advance(10_001);
      assert.equal(await run(), "ok");
    }));
}

Deno.test("createKeyLimits() counts the quota, shows what is left on the session, then answers 403", () =>
  withStore(async (store) => {
    const start = Math.floor(Date.now() / 1000) * 1000;
    const time = clock(start);
    const exceeded: string[] = [];
    const step = createKeyLimits(
      options(store, { now: time.now, onQuotaExceeded: (_c, key) => exceeded.push(key) }),
    )!;
    const session = { quota_max: 2, quota_renewal_rate: 3600, rate: 0 };
    const first = keyCtx(session);
    assert.equal(await step(first), undefined);
    assert.equal(first.session!.quota_remaining, 1);
    assert.equal(first.session!.quota_renews, start / 1000 + 3600);
    assert.equal(await store.get("quota-id-key-1"), "1");
    assert.equal(await step(keyCtx(session)), undefined);
    const third = await step(keyCtx(session));
    assert.ok(third instanceof GatewayError);
    assert.deepEqual([third.status, third.message, third.headers], [403, "Quota exceeded", undefined]);
    assert.deepEqual(exceeded, ["key-1"]);
  }));

Deno.test("createKeyLimits() uses the API's own limit and scope when access_rights sets one", () =>
  withStore(async (store) => {
    const step = createKeyLimits(options(store))!;
    const ctx = keyCtx({
      quota_max: 100,
      access_rights: {
        "api-1": {
          api_id: "api-1",
          allowance_scope: "api-1",
          limit: { quota_max: 1, quota_renewal_rate: 60, rate: 0, per: 0 },
        },
      } as never,
    });
    assert.equal(await step(ctx), undefined);
    assert.equal(ctx.session!.access_rights["api-1"].limit.quota_remaining, 0);
    assert.equal(await store.get("quota-api-1-id-key-1"), "1");
    assert.equal(await store.get("quota-id-key-1"), null);
  }));

Deno.test("createKeyLimits() skips ignored paths, unlimited keys and what the API disables", () =>
  withStore(async (store) => {
    assert.equal(createKeyLimits(options(store, { disableQuota: true, disableRateLimit: true })), null);
    const step = createKeyLimits(options(store, { disableQuota: true }))!;
    const ignored = keyCtx({ rate: 1, per: 60, quota_max: 1 });
    ignored.ignored = true;
    for (let i = 0; i < 3; i++) assert.equal(await step(ignored), undefined);
    for (let i = 0; i < 3; i++) {
      assert.equal(await step(keyCtx({ rate: -1, per: 60, quota_max: 1 })), undefined);
    }
    assert.deepEqual(await store.keys(""), [], "nothing was counted");
  }));

Deno.test("createKeyLimits() with rate_limits headers records the limiter's figures, on the 429 too", () =>
  withStore(async (store) => {
    const time = clock(1_700_000_000_000);
    const step = createKeyLimits(options(store, { now: time.now, headers: "rate_limits" }))!;
    const ok = keyCtx({ rate: 2, per: 60, quota_max: -1 });
    assert.equal(await step(ok), undefined);
    assert.deepEqual(ok.limitHeaders, ["2", "1", String(1_700_000_060)]);
    await step(keyCtx({ rate: 2, per: 60, quota_max: -1 }));
    const blocked = await step(keyCtx({ rate: 2, per: 60, quota_max: -1 }));
    assert.ok(blocked instanceof GatewayError);
    assert.deepEqual(blocked.headers, {
      "X-RateLimit-Limit": "2",
      "X-RateLimit-Remaining": "0",
      "X-RateLimit-Reset": String(1_700_000_060),
    });
  }));

Deno.test("createKeyLimits() answers 503 when the store fails", () =>
  withStore(async (store) => {
    const errors: unknown[] = [];
    const step = createKeyLimits(options(store, { onStoreError: (_c, err) => errors.push(err) }))!;
    await store.close();
    const out = await step(keyCtx({ rate: 1, per: 1 }));
    assert.ok(out instanceof GatewayError);
    assert.equal(out.status, 503);
    assert.equal(errors.length, 1);
  }));
