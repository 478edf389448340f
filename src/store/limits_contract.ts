/**
 * The rate-limit and quota behaviour every {@link Store} shares, as one suite run by `embedded_test.ts` and
 * `redis_test.ts` (like `store_contract.ts`). Redis keeps its own clock for expiries, so where a window must
 * pass the tests wait for the store to report it gone instead of moving a fake clock.
 */
import assert from "node:assert/strict";
import { waitUntil } from "../../tests/support/wait_until.ts";
import type { RateLimitCheck, Store } from "./store.ts";

/** Options of {@link runLimitsContract}. */
export interface LimitsContractOptions {
  /** Skip the whole suite (e.g. no `redis-server` installed). @default false */
  ignore?: boolean;
}

/** One case of the contract: a check run on a fresh, empty store. */
interface LimitsContractCase {
  title: string;
  check: (store: Store) => Promise<void>;
}

const CASES: LimitsContractCase[] = [];

function contractCase(title: string, check: (store: Store) => Promise<void>): void {
  CASES.push({ title, check });
}

for (const kind of ["sliding", "window"] as const) {
  contractCase(
    `checkLimits() ${kind} blocks the rate+1-th request and a later window passes`,
    async (store) => {
      const rate: RateLimitCheck = { kind, key: `rate-limit-${kind}`, rate: 3, per: 1 };
      const t0 = Date.now();
      const seen = [];
      for (let i = 0; i < 4; i++) seen.push((await store.checkLimits(rate, null, t0 + i)).rate!);
      assert.deepEqual(seen.map((r) => r.blocked), [false, false, false, true]);
      assert.deepEqual(seen.map((r) => r.remaining), [2, 1, 0, 0]);
      assert.ok(seen[3].resetMs > 0 && seen[3].resetMs <= 1000, `reset ${seen[3].resetMs}`);
      // Another key has its own window.
      assert.equal(
        (await store.checkLimits({ ...rate, key: `${rate.key}-b` }, null, t0)).rate!.blocked,
        false,
      );
      if (kind === "sliding") {
        // The log goes by request times, so a later time is enough; polling would log more requests.
        assert.equal((await store.checkLimits(rate, null, t0 + 1003)).rate!.blocked, false);
      } else {
        await waitUntil(
          async () => !(await store.checkLimits(rate, null, Date.now())).rate!.blocked,
          "the next window lets a request through",
        );
      }
    },
  );
}

contractCase("checkLimits() sliding logs blocked requests, so hammering stays blocked", async (store) => {
  const rate: RateLimitCheck = { kind: "sliding", key: "rate-limit-hammer", rate: 2, per: 10 };
  const t0 = Date.now();
  await store.checkLimits(rate, null, t0);
  await store.checkLimits(rate, null, t0 + 1);
  assert.equal((await store.checkLimits(rate, null, t0 + 9_000)).rate!.blocked, true);
  // t0 has left the window at t0+10000, but t0+1 and the blocked t0+9000 are still in it.
  assert.equal((await store.checkLimits(rate, null, t0 + 10_000)).rate!.blocked, true);
});

contractCase(
  "checkLimits() counts the quota: used grows, blocked requests count, the TTL is the renewal",
  async (store) => {
    const quota = { key: "quota-abc", renewalSeconds: 60 };
    const now = Date.now();
    const used = [];
    for (let i = 0; i < 3; i++) used.push((await store.checkLimits(null, quota, now)).quota!);
    assert.deepEqual(used.map((q) => q.used), [1, 2, 3]);
    assert.ok(used[2].resetMs > 59_000 && used[2].resetMs <= 60_000, `reset ${used[2].resetMs}`);
    assert.equal(await store.get("quota-abc"), "3");
    assert.ok([59, 60].includes(await store.ttl("quota-abc")));
    assert.deepEqual(await store.keys("quota-"), ["quota-abc"]);
  },
);

contractCase("checkLimits() does not count the quota of a request the rate limit blocked", async (store) => {
  const rate: RateLimitCheck = { kind: "window", key: "rate-limit-q", rate: 1, per: 60 };
  const quota = { key: "quota-q", renewalSeconds: 60 };
  const now = Date.now();
  assert.deepEqual((await store.checkLimits(rate, quota, now)).quota?.used, 1);
  const blocked = await store.checkLimits(rate, quota, now);
  assert.equal(blocked.rate!.blocked, true);
  assert.equal(blocked.quota, null);
  assert.equal(await store.get("quota-q"), "1");
});

contractCase("checkLimits() renews the quota after its period; renewal 0 never renews", async (store) => {
  const renewing = { key: "quota-renews", renewalSeconds: 0.3 };
  const never = { key: "quota-never", renewalSeconds: 0 };
  await store.checkLimits(null, renewing, Date.now());
  assert.deepEqual(await store.checkLimits(null, never, Date.now()), {
    rate: null,
    quota: { used: 1, resetMs: -1 },
  });
  assert.equal((await store.checkLimits(null, renewing, Date.now())).quota!.used, 2);
  await waitUntil(async () => (await store.get("quota-renews")) === null, "the quota window ends");
  assert.equal((await store.checkLimits(null, renewing, Date.now())).quota!.used, 1);
  assert.equal((await store.checkLimits(null, never, Date.now())).quota!.used, 2);
  assert.equal(await store.ttl("quota-never"), -1);
});

contractCase(
  "checkLimits() restarts a quota counter that has no expiry once the quota renews",
  async (store) => {
    await store.set("quota-was-unlimited", "41");
    const quota = { key: "quota-was-unlimited", renewalSeconds: 60 };
    assert.equal((await store.checkLimits(null, quota, Date.now())).quota!.used, 1);
    assert.ok([59, 60].includes(await store.ttl("quota-was-unlimited")));
  },
);

contractCase("delete() and set() of a quota counter are seen by the next check", async (store) => {
  const quota = { key: "quota-reset", renewalSeconds: 60 };
  await store.checkLimits(null, quota, Date.now());
  await store.checkLimits(null, quota, Date.now());
  assert.equal(await store.delete("quota-reset", "quota-missing"), 1);
  assert.equal(await store.get("quota-reset"), null);
  assert.deepEqual(await store.keys("quota-"), []);
  assert.equal((await store.checkLimits(null, quota, Date.now())).quota!.used, 1);
  await store.set("quota-reset", "10", 60);
  assert.equal((await store.checkLimits(null, quota, Date.now())).quota!.used, 11);
  assert.equal(await store.incr("quota-reset"), 12);
  assert.deepEqual(await store.getMany(["quota-reset", "other"]), ["12", null]);
});

contractCase("checkLimits() counts concurrent requests exactly", async (store) => {
  const rate: RateLimitCheck = { kind: "sliding", key: "rate-limit-race", rate: 30, per: 60 };
  const quota = { key: "quota-race", renewalSeconds: 60 };
  const now = Date.now();
  const results = await Promise.all(Array.from({ length: 50 }, () => store.checkLimits(rate, quota, now)));
  assert.equal(results.filter((r) => !r.rate!.blocked).length, 30);
  const used = results.flatMap((r) => r.quota === null ? [] : [r.quota.used]).sort((a, b) => a - b);
  assert.deepEqual(used, Array.from({ length: 30 }, (_, i) => i + 1));
});

/**
 * Registers the limits contract tests.
 * @param name prefix of every test name, e.g. `"embedded"`
 * @param open opens a fresh, empty store; the test closes it
 */
export function runLimitsContract(
  name: string,
  open: () => Promise<Store>,
  options: LimitsContractOptions = {},
): void {
  for (const { title, check } of CASES) {
    Deno.test(`${name}: ${title}`, { ignore: options.ignore ?? false }, async () => {
      await using store = await open();
      await check(store);
    });
  }
}

/**
 * Runs the contract as steps of one test, for a backend that is costly to start (a cluster), started once.
 * @param open opens a store on the backend emptied for this case; the step closes it
 */
export async function stepLimitsContract(t: Deno.TestContext, open: () => Promise<Store>): Promise<void> {
  for (const { title, check } of CASES) {
    await t.step(title, async () => {
      await using store = await open();
      await check(store);
    });
  }
}
