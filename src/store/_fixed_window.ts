/**
 * The fixed-window rate limiter the embedded store keeps in memory (one node, nothing to share): a window opens
 * at the first request and lasts `per` seconds; the `rate + 1`-th request inside it is blocked. This is how
 * Tyk's default limiter counts on a single gateway (its bucket starts on first use and resets after `per`).
 */
import type { SlidingLogResult } from "./store.ts";

/** Steps between sweeps of windows that have closed. */
const SWEEP_EVERY = 4096;

interface Window {
  count: number;
  /** When the window closes, in epoch ms. */
  endsAt: number;
}

/** Fixed windows kept in memory, keyed like the Redis counters. */
export class MemoryFixedWindows {
  #windows = new Map<string, Window>();
  #steps = 0;

  /** One limiter step at `nowMs`; `rate` and `perSeconds` are truncated to integers. */
  step(key: string, rate: number, perSeconds: number, nowMs: number): SlidingLogResult {
    rate = Math.trunc(rate);
    const perMs = Math.trunc(perSeconds) * 1000;
    if (++this.#steps % SWEEP_EVERY === 0) {
      for (const [name, window] of this.#windows) if (window.endsAt <= nowMs) this.#windows.delete(name);
    }
    let window = this.#windows.get(key);
    if (window === undefined || window.endsAt <= nowMs) {
      window = { count: 0, endsAt: nowMs + perMs };
      this.#windows.set(key, window);
    }
    window.count++;
    return {
      blocked: window.count > rate,
      remaining: Math.max(rate - window.count, 0),
      resetMs: window.endsAt - nowMs,
    };
  }

  /** Forgets a window (the key was deleted). */
  delete(key: string): boolean {
    return this.#windows.delete(key);
  }
}
