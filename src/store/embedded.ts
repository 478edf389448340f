/**
 * The embedded store: one Deno KV file for a single gateway, no set-up. Writes are committed before they
 * resolve; expiry is exact at read time (each value carries its expiry, KV's `expireIn` only collects
 * garbage); the rate limiters and pub/sub live in memory, as only this process uses them. Quota counters
 * (`quota-…`) are counted in memory and reach the file in the background (see `_counter_cache.ts`).
 * Deno KV refuses values over 64 KiB, so a longer value (a session with many access rights) is stored in
 * parts that its entry names; Redis has no such limit and keeps Tyk's one value per key.
 */
import { logger } from "../log.ts";
import { CounterCache, type StoredValue } from "./_counter_cache.ts";
import { MemoryFixedWindows } from "./_fixed_window.ts";
import { MemorySlidingLog } from "./_sliding_log.ts";
import type {
  LimitsResult,
  QuotaCheck,
  RateLimitCheck,
  SlidingLogResult,
  Store,
  Subscription,
} from "./store.ts";

const log = logger("store");

/** The KV file inside the data folder. */
export const EMBEDDED_FILE = "portcullis.kv";

/** Key namespace of values; `END` sorts after every key in it. */
const NS = "v";
const END = ["w"];
/** Key namespace of the parts of long values: `[PARTS, key, version, index]`. */
const PARTS = "p";
/** Longest value kept in its entry, in UTF-16 code units: at most 2 bytes each, well inside 64 KiB. */
const PART_UNITS = 30_000;
/** Parts written per commit, well inside a commit's 800 KB. */
const PARTS_PER_COMMIT = 10;
/** Deno KV's limits: keys per `getMany`, checks per atomic operation. */
const KV_GET_MANY = 10;
const KV_CHECKS = 100;
/** KV may collect an expired value this long after its expiry; reads never see it anyway. */
const GC_SLACK_MS = 1000;
const INTEGER = /^-?\d+$/;
/** Keys kept in the write-behind cache: Tyk's quota counters. */
const COUNTER_PREFIX = "quota-";
/** How often the quota counters reach the file: the most a crash can lose. */
export const COUNTER_FLUSH_MS = 1000;

/** A stored value and its expiry in epoch ms (0: none). */
interface Entry {
  v: string;
  e: number;
  /** Set when the value is stored in parts rather than in `v`: their version and how many there are. */
  p?: { id: string; n: number };
}

interface PendingIncrement {
  ttlSeconds: number;
  resolve(value: number): void;
  reject(reason: unknown): void;
}

function live(entry: Entry | null, now: number): Entry | null {
  return entry !== null && (entry.e === 0 || entry.e > now) ? entry : null;
}

function expiryFor(ttlSeconds: number, now: number): number {
  return ttlSeconds > 0 ? now + ttlSeconds * 1000 : 0;
}

function setOptions(expiresAt: number, now: number): { expireIn?: number } {
  return expiresAt === 0 ? {} : { expireIn: expiresAt - now + GC_SLACK_MS };
}

/**
 * Opens (creating it if needed) the embedded store in `dir`.
 * @throws when the folder or the KV file cannot be created or opened.
 */
export async function openEmbeddedStore(dir: string): Promise<Store> {
  await Deno.mkdir(dir, { recursive: true });
  const kv = await Deno.openKv(`${dir}/${EMBEDDED_FILE}`);
  const parted = new Set<string>();
  for await (const part of kv.list({ prefix: [PARTS] })) parted.add(part.key[1] as string);
  return new EmbeddedStore(kv, parted);
}

function isCounter(key: string): boolean {
  return key.startsWith(COUNTER_PREFIX);
}

class EmbeddedStore implements Store {
  readonly kind = "embedded";
  #kv: Deno.Kv;
  #closed = false;
  #bus = new EventTarget();
  #logs = new MemorySlidingLog();
  #windows = new MemoryFixedWindows();
  #counters: CounterCache;
  /** Increments waiting for the next commit of their key, and the keys with a commit in flight. */
  #increments = new Map<string, PendingIncrement[]>();
  #incrementing = new Set<string>();
  /**
   * Keys that have (or had) a value in parts. Only their writes read the entry first, to drop the parts it
   * names; every other write is one plain set. Never shrinks while open: this process is the file's only
   * writer, and a key wrongly listed only costs that read.
   */
  #parted: Set<string>;

  constructor(kv: Deno.Kv, parted: Set<string>) {
    this.#kv = kv;
    this.#parted = parted;
    this.#counters = new CounterCache({
      load: async (key) => {
        const entry = live((await this.#read(key)).value, Date.now());
        return entry === null ? null : { value: entry.v, expiresAt: entry.e };
      },
      save: (values) => this.#saveCounters(values),
    }, {
      flushMs: COUNTER_FLUSH_MS,
      onError: (err) => log.error(`Cannot write quota counters: ${(err as Error)?.message ?? err}; retrying`),
    });
  }

  async #saveCounters(values: { key: string; stored: StoredValue | null }[]): Promise<void> {
    const now = Date.now();
    for (let i = 0; i < values.length; i += KV_CHECKS) {
      const op = this.#kv.atomic();
      for (const { key, stored } of values.slice(i, i + KV_CHECKS)) {
        if (stored === null) op.delete([NS, key]);
        else {
          const entry: Entry = { v: stored.value, e: stored.expiresAt };
          op.set([NS, key], entry, setOptions(entry.e, now));
        }
      }
      await op.commit();
    }
  }

  async #counter(key: string): Promise<Entry | null> {
    const stored = await this.#counters.read(key, Date.now());
    return stored === null ? null : { v: stored.value, e: stored.expiresAt };
  }

  #open(): Deno.Kv {
    if (this.#closed) throw new Error("Cannot use the embedded store: it is closed");
    return this.#kv;
  }

  async #read(key: string): Promise<Deno.KvEntryMaybe<Entry>> {
    return await this.#open().get<Entry>([NS, key]);
  }

  async #readMany<T>(keys: Deno.KvKey[]): Promise<Deno.KvEntryMaybe<T>[]> {
    const kv = this.#open();
    const batches: Promise<Deno.KvEntryMaybe<T>[]>[] = [];
    for (let i = 0; i < keys.length; i += KV_GET_MANY) {
      batches.push(kv.getMany<T[]>(keys.slice(i, i + KV_GET_MANY)));
    }
    return (await Promise.all(batches)).flat();
  }

  /**
   * The entry to store for a value: the value itself, or an entry naming its parts, which are written
   * first. Parts no entry names are never read, so they need not be written in the entry's commit.
   */
  async #entryFor(key: string, value: string, e: number, now: number): Promise<Entry> {
    if (value.length <= PART_UNITS) return { v: value, e };
    this.#parted.add(key); // before the parts exist, so no plain set() can replace an entry naming them
    const id = crypto.randomUUID();
    const n = Math.ceil(value.length / PART_UNITS);
    for (let first = 0; first < n; first += PARTS_PER_COMMIT) {
      const op = this.#open().atomic();
      for (let i = first; i < Math.min(n, first + PARTS_PER_COMMIT); i++) {
        op.set([PARTS, key, id, i], value.slice(i * PART_UNITS, (i + 1) * PART_UNITS), setOptions(e, now));
      }
      await op.commit();
    }
    return { v: "", e, p: { id, n } };
  }

  /** Deletes the parts an entry names, once no entry does any more (replaced, deleted, or never used). */
  async #dropParts(key: string, entry: Entry | null): Promise<void> {
    if (!entry?.p) return;
    const { id, n } = entry.p;
    for (let first = 0; first < n; first += KV_CHECKS) {
      const op = this.#open().atomic();
      for (let i = first; i < Math.min(n, first + KV_CHECKS); i++) op.delete([PARTS, key, id, i]);
      await op.commit();
    }
  }

  /** The value of a live entry, its parts joined; reads the entry again when a write replaced it meanwhile. */
  async #valueOf(key: string, read: Deno.KvEntryMaybe<Entry>): Promise<string | null> {
    for (;;) {
      const entry = live(read.value, Date.now());
      if (entry?.p === undefined) return entry?.v ?? null;
      const { id, n } = entry.p;
      const parts = await this.#readMany<string>(Array.from({ length: n }, (_, i) => [PARTS, key, id, i]));
      if (parts.every((part) => part.value !== null)) return parts.map((part) => part.value).join("");
      const again = await this.#read(key);
      if (again.versionstamp === read.versionstamp) {
        throw new Error(`Cannot read "${key}" from the embedded store: part of its value is missing`);
      }
      read = again;
    }
  }

  async get(key: string): Promise<string | null> {
    this.#open();
    if (isCounter(key)) return (await this.#counter(key))?.v ?? null;
    return await this.#valueOf(key, await this.#read(key));
  }

  async getMany(keys: string[]): Promise<(string | null)[]> {
    if (keys.some(isCounter)) return await Promise.all(keys.map((key) => this.get(key)));
    const entries = await this.#readMany<Entry>(keys.map((key) => [NS, key]));
    const now = Date.now();
    return await Promise.all(entries.map((entry, i) => {
      const value = live(entry.value, now);
      // only a value stored in parts needs more reads
      return value?.p === undefined ? value?.v ?? null : this.#valueOf(keys[i], entry);
    }));
  }

  async set(key: string, value: string, ttlSeconds = 0): Promise<void> {
    const now = Date.now();
    const e = expiryFor(ttlSeconds, now);
    this.#open();
    if (isCounter(key)) {
      await this.#counters.write(key, { value, expiresAt: e }, now);
      return;
    }
    if (value.length <= PART_UNITS && !this.#parted.has(key)) {
      await this.#open().set([NS, key], { v: value, e } satisfies Entry, setOptions(e, now));
      return;
    }
    const entry = await this.#entryFor(key, value, e, now);
    while (true) {
      // read first, so the parts of the value this one replaces can go
      const current = await this.#read(key);
      const result = await this.#open().atomic().check(current).set([NS, key], entry, setOptions(e, now))
        .commit();
      if (result.ok) return await this.#dropParts(key, current.value);
    }
  }

  async setIfExists(key: string, value: string, ttlSeconds = 0): Promise<boolean> {
    return await this.#writeIf(key, value, ttlSeconds, true);
  }

  async setIfAbsent(key: string, value: string, ttlSeconds = 0): Promise<boolean> {
    return await this.#writeIf(key, value, ttlSeconds, false);
  }

  async #writeIf(key: string, value: string, ttlSeconds: number, mustExist: boolean): Promise<boolean> {
    this.#open();
    if (isCounter(key)) {
      const now = Date.now();
      const stored = { value, expiresAt: expiryFor(ttlSeconds, now) };
      return (await this.#counters.write(key, stored, now, mustExist ? "exists" : "absent")).written;
    }
    let entry: Entry | null = null;
    while (true) {
      const current = await this.#read(key);
      const now = Date.now();
      if ((live(current.value, now) !== null) !== mustExist) {
        await this.#dropParts(key, entry);
        return false;
      }
      const e = expiryFor(ttlSeconds, now);
      entry ??= await this.#entryFor(key, value, e, now);
      const result = await this.#open().atomic().check(current).set([NS, key], entry, setOptions(e, now))
        .commit();
      if (result.ok) {
        await this.#dropParts(key, current.value);
        return true;
      }
    }
  }

  async delete(...keys: string[]): Promise<number> {
    this.#open();
    let deleted = 0;
    for (const key of keys.filter(isCounter)) {
      if ((await this.#counters.write(key, null, Date.now())).existed) deleted++;
    }
    keys = keys.filter((key) => !isCounter(key));
    for (let i = 0; i < keys.length; i += KV_CHECKS) {
      deleted += await this.#deleteBatch(keys.slice(i, i + KV_CHECKS));
    }
    return deleted;
  }

  async #deleteBatch(keys: string[]): Promise<number> {
    while (true) {
      const current = await Promise.all(keys.map((key) => this.#read(key)));
      const now = Date.now();
      const op = this.#open().atomic();
      let existed = 0;
      for (const entry of current) {
        op.check(entry).delete(entry.key);
        if (live(entry.value, now) !== null) existed++;
      }
      if ((await op.commit()).ok) {
        for (const entry of current) await this.#dropParts(entry.key[1] as string, entry.value);
        return existed;
      }
    }
  }

  async keys(prefix: string): Promise<string[]> {
    const now = Date.now();
    const names: string[] = [];
    for await (const entry of this.#open().list<Entry>({ start: [NS, prefix], end: END })) {
      const name = entry.key[1] as string;
      // Keys with a common prefix are contiguous in KV's byte order, so the first miss ends the run.
      if (!name.startsWith(prefix)) break;
      if (live(entry.value, now) !== null) names.push(name);
    }
    const counters = this.#counters.list(prefix, now);
    const absent = new Set(counters.absent);
    return [...new Set([...names.filter((name) => !absent.has(name)), ...counters.live])];
  }

  async ttl(key: string): Promise<number> {
    this.#open();
    const entry = isCounter(key) ? await this.#counter(key) : live((await this.#read(key)).value, Date.now());
    const now = Date.now();
    if (entry === null) return -2;
    if (entry.e === 0) return -1;
    return Math.floor((entry.e - now + 500) / 1000); // Redis rounds to the nearest second
  }

  incr(key: string, ttlSeconds = 0): Promise<number> {
    try {
      this.#open();
    } catch (err) {
      return Promise.reject(err);
    }
    if (isCounter(key)) return this.#counters.incr(key, ttlSeconds > 0 ? ttlSeconds * 1000 : 0, Date.now());
    return new Promise((resolve, reject) => {
      let waiting = this.#increments.get(key);
      if (waiting === undefined) this.#increments.set(key, waiting = []);
      waiting.push({ ttlSeconds, resolve, reject });
      if (!this.#incrementing.has(key)) this.#drainIncrements(key);
    });
  }

  /**
   * Commits the increments of one key in groups: all calls that arrive while a commit is in flight go into the
   * next one and get consecutive values. A KV commit takes a few hundred µs, so one commit per call would cap
   * a hot quota counter at a few thousand requests a second.
   */
  async #drainIncrements(key: string): Promise<void> {
    this.#incrementing.add(key);
    try {
      for (let group = this.#increments.get(key); group !== undefined; group = this.#increments.get(key)) {
        this.#increments.delete(key);
        try {
          const first = await this.#commitIncrements(key, group.length, group[0].ttlSeconds);
          group.forEach((call, i) => call.resolve(first + i));
        } catch (err) {
          for (const call of group) call.reject(err);
        }
      }
    } finally {
      this.#incrementing.delete(key);
    }
  }

  /** Adds `count` to a counter in one atomic commit; returns the value after the first increment. */
  async #commitIncrements(key: string, count: number, ttlSeconds: number): Promise<number> {
    while (true) {
      const current = await this.#read(key);
      const now = Date.now();
      const entry = live(current.value, now);
      if (entry !== null && !INTEGER.test(entry.v)) {
        throw new Error(`Cannot increment "${key}": value is not an integer`);
      }
      const base = entry === null ? 0 : Number(entry.v);
      // The call that creates the counter sets its expiry; later ones keep it.
      const e = entry === null ? expiryFor(ttlSeconds, now) : entry.e;
      const result = await this.#open().atomic().check(current)
        .set([NS, key], { v: String(base + count), e } satisfies Entry, setOptions(e, now)).commit();
      if (result.ok) return base + 1;
    }
  }

  /** Runs an in-memory operation as a call on the store: rejected once the store is closed. */
  #inMemory<T>(operation: () => T): Promise<T> {
    try {
      this.#open();
      return Promise.resolve(operation());
    } catch (err) {
      return Promise.reject(err);
    }
  }

  slidingLog(key: string, rate: number, perSeconds: number, nowMs: number): Promise<SlidingLogResult> {
    return this.#inMemory(() => this.#logs.step(key, rate, perSeconds, nowMs));
  }

  async checkLimits(
    rate: RateLimitCheck | null,
    quota: QuotaCheck | null,
    nowMs: number,
  ): Promise<LimitsResult> {
    this.#open();
    let rateResult: SlidingLogResult | null = null;
    if (rate !== null) {
      const limiter = rate.kind === "sliding" ? this.#logs : this.#windows;
      rateResult = limiter.step(rate.key, rate.rate, rate.per, nowMs);
      if (rateResult.blocked) return { rate: rateResult, quota: null };
    }
    if (quota === null) return { rate: rateResult, quota: null };
    if (!isCounter(quota.key)) {
      throw new RangeError(`Cannot count quota "${quota.key}": quota keys start with "${COUNTER_PREFIX}"`);
    }
    const renewalMs = quota.renewalSeconds > 0 ? quota.renewalSeconds * 1000 : 0;
    return { rate: rateResult, quota: await this.#counters.count(quota.key, renewalMs, nowMs) };
  }

  publish(channel: string, message: string): Promise<void> {
    return this.#inMemory(() => {
      // Delivered after the publisher continues, as a Redis round trip would.
      queueMicrotask(() => this.#bus.dispatchEvent(new MessageEvent(channel, { data: message })));
    });
  }

  subscribe(channel: string, onMessage: (message: string) => void): Promise<Subscription> {
    return this.#inMemory(() => {
      const listener = (event: Event) => {
        try {
          onMessage((event as MessageEvent<string>).data);
        } catch (err) {
          log.error(`Cannot handle message on "${channel}": ${(err as Error)?.message ?? err}`);
        }
      };
      this.#bus.addEventListener(channel, listener);
      return {
        close: () => {
          this.#bus.removeEventListener(channel, listener);
          return Promise.resolve();
        },
      };
    });
  }

  async ping(): Promise<boolean> {
    if (this.#closed) return false;
    try {
      await this.#kv.get([NS, ""]);
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#counters.close();
    } catch (err) {
      log.error(`Cannot write quota counters before closing: ${(err as Error)?.message ?? err}`);
    }
    this.#kv.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
