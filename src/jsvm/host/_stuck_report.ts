/**
 * What the pool's watchdog says about one sandbox thread once it was told to stop: an error when it is still
 * busy `STUCK_MS` later (it runs code the timeout guard cannot interrupt, a long built-in call), and a warning
 * when such a thread is gone at last. A thread that stops in time is never mentioned.
 */
import type { Logger } from "../../log.ts";

/**
 * How long a sandbox thread may stay busy after it was told to stop (or after the deadline of the call
 * whose promise jobs it runs) before the watchdog reports it.
 */
export const STUCK_MS = 1_000;

/** The stop of one sandbox thread, as the watchdog reports it. */
export class StuckReport {
  #log: Logger;
  #apiId: string;
  #stoppedAt = 0;
  #culprit = "";
  #reported = false;

  constructor(log: Logger, apiId: string) {
    this.#log = log;
    this.#apiId = apiId;
  }

  /** What the thread ran when it was stopped, for the log. */
  get culprit(): string {
    return this.#culprit;
  }

  /** The thread was told to stop at `at` (a `performance.now()` time) while it ran `culprit`. */
  stopped(at: number, culprit: string): void {
    this.#stoppedAt = at;
    this.#culprit = culprit;
  }

  /** Counts the thread as stopped from `at` instead: promise jobs stopped past a deadline count from it. */
  stoppedSince(at: number): void {
    this.#stoppedAt = at;
  }

  /** The thread is still busy at `now`: reports it once, `STUCK_MS` after it was stopped. */
  busy(now: number): void {
    if (this.#reported || now - this.#stoppedAt < STUCK_MS) return;
    this.#reported = true;
    this.#log.error(
      "JS sandbox thread still busy 1 s after its deadline, in code the timeout guard cannot interrupt",
      { api_id: this.#apiId, plugin: this.#culprit },
    );
  }

  /** The thread is gone at `now`: says so when it was reported busy. */
  gone(now: number): void {
    if (!this.#reported) return;
    this.#log.warn(
      `JS sandbox thread stopped ${((now - this.#stoppedAt) / 1000).toFixed(1)} s after its deadline`,
      { api_id: this.#apiId, plugin: this.#culprit },
    );
  }
}
