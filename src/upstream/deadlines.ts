/**
 * Deadlines of one fixed length (an API's proxy timeout) for many requests, served by one timer. A timer per
 * request costs a setTimeout and a clearTimeout on every proxied request (≈ 2–4 µs here); deadlines of equal
 * length expire in the order they were added, so a queue and a timer armed for its oldest entry suffice. The
 * timer is never cleared early: when it finds nothing due it re-arms for the oldest entry, or stops when the
 * queue is empty, so a busy queue arms about one timer per deadline length.
 */

/** What a deadline calls when it passes: an object, so a request needs no closure per deadline. */
export interface Expiring {
  /** The deadline this object was given by `queue` passed. */
  onDeadline(queue: DeadlineQueue): void;
}

/** One request's deadline; `cancel()` once the request no longer needs it. */
export class Deadline {
  /** Null once cancelled or expired. */
  owner: Expiring | null;

  constructor(readonly queue: DeadlineQueue, readonly at: number, owner: Expiring) {
    this.owner = owner;
  }

  /** The deadline will not pass for its owner any more. */
  cancel(): void {
    this.owner = null;
    this.queue.settled();
  }
}

/** Deadlines `ms` after each `start()`, expiring in order. */
export class DeadlineQueue {
  #ms: number;
  #now: () => number;
  #entries: Deadline[] = [];
  #head = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;

  /**
   * @param ms the length of every deadline, in milliseconds
   * @param now the clock, injectable for tests @default performance.now
   * @throws RangeError when `ms` is negative or not a number
   */
  constructor(ms: number, now: () => number = () => performance.now()) {
    if (!(ms >= 0)) throw new RangeError(`Cannot make deadlines of ${ms} ms: must be 0 or more`);
    this.#ms = ms;
    this.#now = now;
  }

  /** Calls `owner.onDeadline(this)` in `ms` milliseconds unless cancelled first. */
  start(owner: Expiring): Deadline {
    const entry = new Deadline(this, this.#now() + this.#ms, owner);
    this.#entries.push(entry);
    if (this.#timer === null) this.#arm(this.#ms);
    return entry;
  }

  /** Entries waiting, settled or not (for tests). */
  get size(): number {
    return this.#entries.length - this.#head;
  }

  /**
   * Forgets settled entries at the front, so the queue holds about as many entries as requests in flight
   * (called by {@link Deadline.cancel}).
   */
  settled(): void {
    const entries = this.#entries;
    while (this.#head < entries.length && entries[this.#head].owner === null) this.#head++;
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
      const owner = entry.owner;
      entry.owner = null;
      owner?.onDeadline(this);
    }
    this.settled();
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
    for (let i = this.#head; i < this.#entries.length; i++) this.#entries[i].owner = null;
    this.#entries = [];
    this.#head = 0;
  }
}
