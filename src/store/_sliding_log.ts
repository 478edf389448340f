/**
 * Tyk's Redis rolling rate limiter: the result rule both stores share, and the in-memory log the embedded
 * store uses (one node, so nothing needs sharing). Semantics of one step: drop entries at or before
 * `now − per`, count the rest, add `now` (blocked requests are logged too), expire the log `per` after now.
 */
import type { SlidingLogResult } from "./store.ts";

/**
 * Builds a step's result from the count taken before adding `now`.
 * @param count entries in the window before this request
 * @param resetMs time until the `rate`-th newest entry leaves the window (0 when the window is not full)
 */
export function slidingLogResult(count: number, rate: number, resetMs: number): SlidingLogResult {
  return { blocked: count >= rate, remaining: Math.max(rate - count - 1, 0), resetMs: Math.max(resetMs, 0) };
}

/** Steps between sweeps of logs nobody touched for longer than their window. */
const SWEEP_EVERY = 4096;

interface Log {
  /** Request times in ms, ascending, from `start` on; entries before `start` have left the window. */
  times: number[];
  start: number;
  /** When the whole log expires (Redis `EXPIRE per`). */
  expiresAt: number;
}

/** Sliding logs kept in memory, keyed like the Redis sorted sets. */
export class MemorySlidingLog {
  #logs = new Map<string, Log>();
  #steps = 0;

  /** One limiter step at `nowMs`; `rate` and `perSeconds` are truncated to integers as Tyk does. */
  step(key: string, rate: number, perSeconds: number, nowMs: number): SlidingLogResult {
    rate = Math.trunc(rate);
    const perMs = Math.trunc(perSeconds) * 1000;
    if (++this.#steps % SWEEP_EVERY === 0) this.#sweep(nowMs);

    let log = this.#logs.get(key);
    if (log === undefined || log.expiresAt <= nowMs) {
      log = { times: [], start: 0, expiresAt: 0 };
      this.#logs.set(key, log);
    }
    const { times } = log;
    const cutoff = nowMs - perMs;
    // Entries leave from the front by moving `start`; the array is compacted once half of it is dead, so
    // a busy key costs O(1) per request instead of shifting the whole log.
    while (log.start < times.length && times[log.start] <= cutoff) log.start++;
    if (log.start > 1024 && log.start * 2 > times.length) {
      times.splice(0, log.start);
      log.start = 0;
    }
    const count = times.length - log.start;

    let at = times.length;
    while (at > log.start && times[at - 1] > nowMs) at--;
    if (at === times.length) times.push(nowMs);
    else times.splice(at, 0, nowMs);
    log.expiresAt = nowMs + perMs;
    if (perMs <= 0) this.#logs.delete(key); // EXPIRE 0 deletes the key

    const oldest = rate >= 1 && times.length - rate >= log.start ? times[times.length - rate] : undefined;
    return slidingLogResult(count, rate, oldest === undefined ? 0 : oldest + perMs - nowMs);
  }

  #sweep(nowMs: number): void {
    for (const [key, log] of this.#logs) if (log.expiresAt <= nowMs) this.#logs.delete(key);
  }
}
