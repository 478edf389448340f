/**
 * The embedded store's quota counters (`quota-…` keys): held in memory, so counting a request never waits for
 * a disk write, and written to the KV file in the background every `flushMs` and on close. A crash loses at
 * most the counts of the last `flushMs`; a clean stop loses nothing. Each key is read from the file once, on
 * first use; from then on memory is authoritative, and every write to the key goes through here.
 */

/** A value as the file holds it, with its expiry in epoch ms (0: none). */
export interface StoredValue {
  value: string;
  expiresAt: number;
}

/** Where the cache reads and writes its keys. */
export interface CounterFile {
  load(key: string): Promise<StoredValue | null>;
  /** Writes the values; `null` deletes the key. */
  save(values: { key: string; stored: StoredValue | null }[]): Promise<void>;
}

interface Entry {
  /** `null`: absent. */
  value: string | null;
  expiresAt: number;
  dirty: boolean;
  usedAt: number;
}

/** Options of a {@link CounterCache}. */
export interface CounterCacheOptions {
  /** How often counts reach the file, in ms. @default 1000 */
  flushMs?: number;
  /** Clean entries unused this long leave memory (they are read again on next use), in ms. @default 60_000 */
  idleMs?: number;
  /** Called when a background write fails; its values stay pending for the next one. */
  onError?: (err: unknown) => void;
}

const INTEGER = /^-?\d+$/;

function isLive(entry: Entry, now: number): boolean {
  return entry.value !== null && (entry.expiresAt === 0 || entry.expiresAt > now);
}

/** Keys held in memory and written behind to a {@link CounterFile}. */
export class CounterCache {
  #file: CounterFile;
  #entries = new Map<string, Entry>();
  #loading = new Map<string, Promise<Entry>>();
  #flushing: Promise<void> | null = null;
  #timer: ReturnType<typeof setInterval>;
  #idleMs: number;
  #onError: (err: unknown) => void;

  constructor(file: CounterFile, options: CounterCacheOptions = {}) {
    const { flushMs = 1000, idleMs = 60_000, onError = () => {} } = options;
    if (!(flushMs > 0)) throw new RangeError(`Cannot use flushMs ${flushMs}: must be more than 0`);
    this.#file = file;
    this.#idleMs = idleMs;
    this.#onError = onError;
    this.#timer = setInterval(() => this.flush().catch(this.#onError), flushMs);
    Deno.unrefTimer(this.#timer);
  }

  /** The entry of `key`, read from the file on first use (one read, shared by concurrent callers). */
  #entry(key: string): Entry | Promise<Entry> {
    const entry = this.#entries.get(key);
    if (entry !== undefined) return entry;
    let loading = this.#loading.get(key);
    if (loading === undefined) {
      loading = this.#file.load(key).then((stored) => {
        let loaded = this.#entries.get(key);
        if (loaded === undefined) {
          loaded = {
            value: stored?.value ?? null,
            expiresAt: stored?.expiresAt ?? 0,
            dirty: false,
            usedAt: 0,
          };
          this.#entries.set(key, loaded);
        }
        return loaded;
      }).finally(() => this.#loading.delete(key));
      this.#loading.set(key, loading);
    }
    return loading;
  }

  async #get(key: string): Promise<Entry> {
    const entry = await this.#entry(key);
    entry.usedAt = Date.now();
    return entry;
  }

  /**
   * Counts one request (Tyk's quota step): a counter that is absent, expired, or has no expiry while the quota
   * renews starts a new window of `renewalMs`; then it is incremented. Blocked requests count too.
   * @throws Error when the value is not an integer
   */
  async count(key: string, renewalMs: number, nowMs: number): Promise<{ used: number; resetMs: number }> {
    const entry = await this.#get(key);
    const live = isLive(entry, nowMs);
    if (renewalMs > 0 && (!live || entry.expiresAt === 0)) {
      entry.value = "0";
      entry.expiresAt = nowMs + renewalMs;
    } else if (!live) {
      entry.value = "0";
      entry.expiresAt = 0;
    }
    const used = this.#add(key, entry);
    return { used, resetMs: entry.expiresAt === 0 ? -1 : Math.max(entry.expiresAt - nowMs, 0) };
  }

  /** Redis INCR: counts from 1; `ttlMs > 0` sets the expiry of a counter this call created. */
  async incr(key: string, ttlMs: number, nowMs: number): Promise<number> {
    const entry = await this.#get(key);
    if (!isLive(entry, nowMs)) {
      entry.value = "0";
      entry.expiresAt = ttlMs > 0 ? nowMs + ttlMs : 0;
    }
    return this.#add(key, entry);
  }

  #add(key: string, entry: Entry): number {
    if (!INTEGER.test(entry.value!)) throw new Error(`Cannot increment "${key}": value is not an integer`);
    const value = Number(entry.value) + 1;
    entry.value = String(value);
    entry.dirty = true;
    return value;
  }

  /** The live value of `key` and its expiry; `null` when absent or expired. */
  async read(key: string, nowMs: number): Promise<StoredValue | null> {
    const entry = await this.#get(key);
    return isLive(entry, nowMs) ? { value: entry.value!, expiresAt: entry.expiresAt } : null;
  }

  /**
   * Writes (or with `null`, deletes) `key` and waits until the file has it, as the store's writes promise.
   * @param when only write if the key is live (`"exists"`) or not (`"absent"`)
   * @returns whether it wrote, and whether the key was live before
   */
  async write(
    key: string,
    stored: StoredValue | null,
    nowMs: number,
    when?: "exists" | "absent",
  ): Promise<{ written: boolean; existed: boolean }> {
    const entry = await this.#get(key);
    const existed = isLive(entry, nowMs);
    if ((when === "exists" && !existed) || (when === "absent" && existed)) return { written: false, existed };
    entry.value = stored?.value ?? null;
    entry.expiresAt = stored?.expiresAt ?? 0;
    entry.dirty = true;
    await this.flush();
    return { written: true, existed };
  }

  /** Key names in memory starting with `prefix`: live ones, and those memory knows to be absent. */
  list(prefix: string, nowMs: number): { live: string[]; absent: string[] } {
    const live: string[] = [];
    const absent: string[] = [];
    for (const [key, entry] of this.#entries) {
      if (key.startsWith(prefix)) (isLive(entry, nowMs) ? live : absent).push(key);
    }
    return { live, absent };
  }

  /**
   * Writes every changed key to the file now; a call during a write waits for it and writes again.
   * @throws the file's error; the values stay pending for the next write
   */
  async flush(): Promise<void> {
    while (this.#flushing !== null) await this.#flushing;
    this.#flushing = this.#write().finally(() => this.#flushing = null);
    await this.#flushing;
  }

  async #write(): Promise<void> {
    const now = Date.now();
    const batch: { key: string; stored: StoredValue | null; entry: Entry }[] = [];
    for (const [key, entry] of this.#entries) {
      if (entry.dirty) {
        entry.dirty = false;
        const stored = isLive(entry, now) ? { value: entry.value!, expiresAt: entry.expiresAt } : null;
        batch.push({ key, stored, entry });
      } else if (now - entry.usedAt > this.#idleMs) {
        this.#entries.delete(key);
      }
    }
    if (batch.length === 0) return;
    try {
      await this.#file.save(batch.map(({ key, stored }) => ({ key, stored })));
    } catch (err) {
      for (const { entry } of batch) entry.dirty = true;
      throw err;
    }
  }

  /** Stops the background writes after writing what is pending; safe to call twice. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
  }
}
