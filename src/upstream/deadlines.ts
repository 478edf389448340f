/**
 * Deadlines of one fixed length (an API's proxy timeout) for many requests, served by one timer. A timer per
 * request costs a setTimeout and a clearTimeout on every proxied request (≈ 2–4 µs here); deadlines of equal
 * length expire in the order they were added, so a queue and a timer armed for its oldest entry suffice. The
 * timer is never cleared early: when it finds nothing due it re-arms for the oldest entry, or stops when the
 * queue is empty, so a busy queue arms about one timer per deadline length.
 */

/** One request's deadline; `cancel()` once the request no longer needs it. */
export interface Deadline {
  cancel(): void;
}

interface Entry extends Deadline {
  at: number;
  onExpire: (() => void) | null;
}

/** Deadlines `ms` after each `start()`, expiring in order. */
export class DeadlineQueue {
  #ms: number;
  #now: () => number;
  #entries: Entry[] = [];
  #head = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;

  /**
   * @param ms the length of every deadline, in milliseconds
   * @param now the clock, injectable for tests @default performance.now
   */
  constructor(ms: number, now: () => number = () => performance.now()) {
    if (!(ms >= 0)) throw new RangeError(`Cannot make deadlines of ${ms} ms: must be 0 or more`);
    this.#ms = ms;
    this.#now = now;
  }

  /** Calls `onExpire` in `ms` milliseconds unless cancelled first. */
  start(onExpire: () => void): Deadline {
    const entry: Entry = {
      at: this.#now() + this.#ms,
      onExpire,
      cancel: () => {
        entry.onExpire = null;
        this.#dropSettled();
      },
    };
    this.#entries.push(entry);
    if (this.#timer === null) this.#arm(this.#ms);
    return entry;
  }

  /** Entries waiting, settled or not (for tests). */
  get size(): number {
    return this.#entries.length - this.#head;
  }

  /** Forgets settled entries at the front, so the queue holds about as many entries as requests in flight. */
  #dropSettled(): void {
    const entries = this.#entries;
    while (this.#head < entries.length && entries[this.#head].onExpire === null) this.#head++;
    if (this.#head === entries.length) {
      entries.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > entries.length) {
      this.#entries = entries.slice(this.#head);
      this.#head = 0;
    }
  }

  #fire = () => {
    this.#timer = null;
    const now = this.#now();
    const entries = this.#entries;
    while (this.#head < entries.length && entries[this.#head].at <= now) {
      const entry = entries[this.#head++];
      const onExpire = entry.onExpire;
      entry.onExpire = null;
      onExpire?.();
    }
    this.#dropSettled();
    if (this.#head < this.#entries.length) this.#arm(Math.max(0, this.#entries[this.#head].at - now));
  };

  #arm(ms: number): void {
    this.#timer = setTimeout(this.#fire, ms);
    // a pending deadline must not keep a process alive that has nothing else to do
    Deno.unrefTimer(this.#timer);
  }

  /** Drops every deadline without calling it and stops the timer. */
  clear(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    for (let i = this.#head; i < this.#entries.length; i++) this.#entries[i].onExpire = null;
    this.#entries = [];
    this.#head = 0;
  }
}
