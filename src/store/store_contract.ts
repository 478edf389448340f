/**
 * The behaviour every {@link Store} shares, as one test suite: each implementation's `_test.ts` runs it
 * (as hono runs one suite over all its routers). Each case gets a fresh, empty store.
 */
import assert from "node:assert/strict";
import type { Store } from "./store.ts";

/** Options of {@link runStoreContract}. */
export interface StoreContractOptions {
  /** Skip the whole suite (e.g. no `redis-server` installed). @default false */
  ignore?: boolean;
}

function received(): { next(): Promise<string>; push(message: string): void } {
  const queue: string[] = [];
  const waiting: ((message: string) => void)[] = [];
  return {
    push(message) {
      const resolve = waiting.shift();
      if (resolve) resolve(message);
      else queue.push(message);
    },
    next() {
      const message = queue.shift();
      return message !== undefined
        ? Promise.resolve(message)
        : new Promise((resolve) => waiting.push(resolve));
    },
  };
}

/** One case of the contract: a check run on a fresh, empty store. */
interface StoreContractCase {
  title: string;
  check: (store: Store) => Promise<void>;
}

const CASES: StoreContractCase[] = [];

function contractCase(title: string, check: (store: Store) => Promise<void>): void {
  CASES.push({ title, check });
}

contractCase("get() returns what set() wrote, null when absent", async (store) => {
  assert.equal(await store.get("k1"), null);
  await store.set("k1", "v1");
  assert.equal(await store.get("k1"), "v1");
  await store.set("k1", "v2 ü");
  assert.equal(await store.get("k1"), "v2 ü");
});

contractCase("getMany() returns values in order with null for absent keys", async (store) => {
  assert.deepEqual(await store.getMany([]), []);
  const keys = Array.from({ length: 25 }, (_, i) => `gm-${i}`);
  for (const key of keys.filter((_, i) => i % 2 === 0)) await store.set(key, `v-${key}`);
  assert.deepEqual(await store.getMany(keys), keys.map((key, i) => i % 2 === 0 ? `v-${key}` : null));
});

contractCase("ttl() reports the expiry set() gave, -1 without one, -2 when absent", async (store) => {
  assert.equal(await store.ttl("t1"), -2);
  await store.set("t1", "v", 100);
  assert.ok([99, 100].includes(await store.ttl("t1")));
  await store.set("t1", "v");
  assert.equal(await store.ttl("t1"), -1, "a plain set() clears the expiry, as Redis SET does");
  await store.set("t2", "v", 0);
  assert.equal(await store.ttl("t2"), -1);
});

contractCase("get() returns null once the TTL has passed", async (store) => {
  await store.set("exp", "v", 0.2);
  await store.incr("exp-n", 0.2);
  assert.equal(await store.get("exp"), "v");
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(await store.get("exp"), null);
  assert.deepEqual(await store.getMany(["exp", "exp-n"]), [null, null]);
  assert.equal(await store.ttl("exp"), -2);
  assert.deepEqual(await store.keys("exp"), []);
  assert.equal(await store.incr("exp-n", 100), 1, "an expired counter starts again");
});

contractCase("setIfExists() writes only an existing key, with the TTL given", async (store) => {
  assert.equal(await store.setIfExists("x1", "v", 50), false);
  assert.equal(await store.get("x1"), null);
  await store.set("x1", "old");
  assert.equal(await store.setIfExists("x1", "new", 50), true);
  assert.equal(await store.get("x1"), "new");
  assert.ok([49, 50].includes(await store.ttl("x1")));
});

contractCase("setIfAbsent() writes only a missing key", async (store) => {
  assert.equal(await store.setIfAbsent("n1", "first", 50), true);
  assert.equal(await store.setIfAbsent("n1", "second"), false);
  assert.equal(await store.get("n1"), "first");
  assert.ok([49, 50].includes(await store.ttl("n1")));
});

contractCase("delete() removes keys and counts those that existed", async (store) => {
  assert.equal(await store.delete(), 0);
  await store.set("d1", "v");
  await store.set("d2", "v");
  await store.incr("d3");
  assert.equal(await store.delete("d1", "d2", "d3", "missing"), 3);
  assert.deepEqual(await store.getMany(["d1", "d2", "d3"]), [null, null, null]);
  assert.equal(await store.delete("d1"), 0);
});

contractCase(
  "values far over 64 KiB go through set(), getMany(), setIfExists(), setIfAbsent() and delete()",
  async (store) => {
    const big = `${"x".repeat(200_000)}é${"y".repeat(100_000)}`; // é makes it a two-byte string
    const bigger = `${"z".repeat(900_000)}€`;
    await store.set("big", big);
    assert.equal(await store.get("big"), big);
    assert.deepEqual(await store.getMany(["none", "big"]), [null, big]);
    assert.equal(await store.setIfExists("absent", big), false);
    assert.equal(await store.get("absent"), null);
    assert.equal(await store.setIfExists("big", bigger, 100), true);
    assert.equal(await store.get("big"), bigger);
    assert.ok([99, 100].includes(await store.ttl("big")));
    assert.equal(await store.setIfAbsent("big", big), false);
    assert.equal(await store.setIfAbsent("big2", big), true);
    await store.set("big2", "small now");
    assert.equal(await store.get("big2"), "small now");
    assert.deepEqual((await store.keys("big")).sort(), ["big", "big2"]);
    assert.equal(await store.delete("big", "big2"), 2);
    assert.deepEqual(await store.getMany(["big", "big2"]), [null, null]);
  },
);

contractCase(
  "keys() lists names starting with the prefix, glob characters taken literally",
  async (store) => {
    await store.set("apikey-a", "1");
    await store.set("apikey-b", "2", 100);
    await store.set("apikeyz", "3");
    await store.set("quota-a", "4");
    await store.set("k*[x]-1", "5");
    await store.set("kz[x]-2", "6");
    assert.deepEqual((await store.keys("apikey-")).sort(), ["apikey-a", "apikey-b"]);
    assert.deepEqual(await store.keys("k*[x]-"), ["k*[x]-1"]);
    assert.deepEqual(await store.keys("none-"), []);
    assert.equal((await store.keys("")).length, 6);
  },
);

contractCase("incr() counts from 1 and sets the TTL only when it creates the key", async (store) => {
  assert.equal(await store.incr("c1", 100), 1);
  assert.equal(await store.incr("c1", 5), 2);
  assert.equal(await store.incr("c1"), 3);
  assert.ok([99, 100].includes(await store.ttl("c1")));
  assert.equal(await store.get("c1"), "3");
  assert.equal(await store.incr("c2"), 1);
  assert.equal(await store.ttl("c2"), -1);
  await store.set("c3", "41");
  assert.equal(await store.incr("c3", 100), 42);
  assert.equal(await store.ttl("c3"), -1, "an existing key keeps having no expiry");
});

contractCase("incr() is atomic under concurrent calls", async (store) => {
  const results = await Promise.all(Array.from({ length: 50 }, () => store.incr("race", 100)));
  assert.deepEqual(results.sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i + 1));
});

contractCase("incr() rejects a value that is not an integer", async (store) => {
  await store.set("word", "abc");
  await assert.rejects(store.incr("word"));
});

contractCase("slidingLog() blocks exactly after rate calls inside the window", async (store) => {
  const t0 = Date.now();
  const first = await store.slidingLog("rl-1", 3, 10, t0);
  assert.deepEqual(first, { blocked: false, remaining: 2, resetMs: 0 });
  assert.deepEqual(await store.slidingLog("rl-1", 3, 10, t0 + 1), {
    blocked: false,
    remaining: 1,
    resetMs: 0,
  });
  assert.deepEqual(await store.slidingLog("rl-1", 3, 10, t0 + 2), {
    blocked: false,
    remaining: 0,
    resetMs: 9998,
  });
  const blocked = await store.slidingLog("rl-1", 3, 10, t0 + 3);
  assert.deepEqual(blocked, { blocked: true, remaining: 0, resetMs: 9998 });
  // Another key has its own window.
  assert.equal((await store.slidingLog("rl-2", 3, 10, t0 + 3)).blocked, false);
});

contractCase(
  "slidingLog() logs blocked calls too and frees slots as entries leave the window",
  async (store) => {
    const t0 = Date.now();
    for (let i = 0; i < 2; i++) await store.slidingLog("rl-3", 2, 10, t0 + i);
    assert.equal((await store.slidingLog("rl-3", 2, 10, t0 + 5_000)).blocked, true);
    // At t0+10000 the entry at t0 has left (score ≤ now − per), leaving t0+1 and t0+5000: still full.
    assert.equal((await store.slidingLog("rl-3", 2, 10, t0 + 10_000)).blocked, true);
    // Once every earlier call is older than the window, the log starts empty.
    const later = await store.slidingLog("rl-3", 2, 10, t0 + 20_001);
    assert.deepEqual(later, { blocked: false, remaining: 1, resetMs: 0 });
  },
);

contractCase(
  "slidingLog() truncates rate and per to integers and counts calls in one millisecond",
  async (store) => {
    const t0 = Date.now();
    assert.equal((await store.slidingLog("rl-4", 2.9, 10.7, t0)).remaining, 1);
    assert.equal((await store.slidingLog("rl-4", 2.9, 10.7, t0)).blocked, false);
    assert.equal((await store.slidingLog("rl-4", 2.9, 10.7, t0)).blocked, true);
  },
);

contractCase("subscribe() delivers published messages until the subscription is closed", async (store) => {
  const first = received();
  const second = received();
  const sub1 = await store.subscribe("tyk.cluster.notifications", first.push);
  const sub2 = await store.subscribe("tyk.cluster.notifications", second.push);
  // A handler's own errors are caught by the store, so the other channel's messages are recorded and read
  // at the end: its first message must be the one published to it.
  const elsewhere = received();
  const other = await store.subscribe("other", elsewhere.push);
  await store.publish("tyk.cluster.notifications", '{"command":"GroupReload"}');
  assert.equal(await first.next(), '{"command":"GroupReload"}');
  assert.equal(await second.next(), '{"command":"GroupReload"}');
  await sub1.close();
  await store.publish("tyk.cluster.notifications", "two");
  assert.equal(await second.next(), "two");
  let late = false;
  first.next().then(() => late = true);
  await store.publish("tyk.cluster.notifications", "three");
  assert.equal(await second.next(), "three");
  assert.equal(late, false, "a closed subscription receives nothing");
  await store.publish("other", "for other");
  assert.equal(await elsewhere.next(), "for other", "nothing published elsewhere reached this channel");
  await sub2.close();
  await other.close();
});

contractCase("subscribe() survives a handler that throws", async (store) => {
  const got = received();
  const bad = await store.subscribe("ch", () => {
    throw new Error("handler bug");
  });
  const good = await store.subscribe("ch", got.push);
  await store.publish("ch", "m");
  assert.equal(await got.next(), "m");
  await bad.close();
  await good.close();
});

contractCase("ping() is true while open; close() twice is harmless", async (store) => {
  assert.equal(await store.ping(), true);
  await store.close();
  await store.close();
  assert.equal(await store.ping(), false);
  await assert.rejects(store.get("k"));
});

/**
 * Registers the store contract tests, one `Deno.test` per case.
 * @param name prefix of every test name, e.g. `"embedded"`
 * @param open opens a fresh, empty store; the test closes it
 */
export function runStoreContract(
  name: string,
  open: () => Promise<Store>,
  options: StoreContractOptions = {},
): void {
  for (const { title, check } of CASES) {
    Deno.test(`${name}: ${title}`, { ignore: options.ignore ?? false }, async () => {
      await using store = await open();
      await check(store);
    });
  }
}

/**
 * Runs the contract as steps of one test, for a backend that is costly to start (a cluster, a Sentinel
 * setup), started once by that test.
 * @param open opens a store on the backend emptied for this case; the step closes it
 */
export async function stepStoreContract(t: Deno.TestContext, open: () => Promise<Store>): Promise<void> {
  for (const { title, check } of CASES) {
    await t.step(title, async () => {
      await using store = await open();
      await check(store);
    });
  }
}
