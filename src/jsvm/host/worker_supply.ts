/**
 * Where sandbox threads come from. Booting one (a launcher, then the sandbox's own thread and modules; about
 * half a second of waiting in Deno 2.9) is most of what a cold API's first JS call would wait for, so a
 * supply keeps `SPARES` threads booted and prepared (permissions given up, scope hardened, code guard built):
 * a spare holds no plugin code and no API's data until a sandbox takes it and sends its sources; then another
 * boots. The first spares boot when the first sandbox starts, not before, so a gateway whose APIs make no JS
 * call holds no sandbox thread at all; a spare nobody took for `idleMs` is stopped.
 */

import { SandboxThread } from "./_sandbox_thread.ts";

/** Spares kept per heap limit: a worker that replaces a stopped one, or a second cold API, waits for none. */
const SPARES = 2;

/** Hands out sandbox threads, keeping some booted ahead. */
export interface WorkerSupply {
  /** A thread with a heap of at most `memoryLimitMb` that has booted (or boots now) and waits for `start()`. */
  take(memoryLimitMb: number): SandboxThread;
  /** Stops the spares; later `take()` calls boot threads without keeping any. Idempotent. */
  close(): void;
}

/** How a supply keeps its spares. */
export interface WorkerSupplyOptions {
  /** A spare not taken for this long is stopped (0 keeps it). @default 0 */
  idleMs?: number;
}

/** A booted thread waiting to be taken, and the timer that stops it when nobody does. */
interface Spare {
  thread: SandboxThread;
  expiry: ReturnType<typeof setTimeout> | undefined;
}

class Supply implements WorkerSupply {
  /** Spares by heap limit, oldest first. */
  #spares = new Map<number, Spare[]>();
  #refills = new Map<number, ReturnType<typeof setTimeout>>();
  #idleMs: number;
  #closed = false;

  constructor(options: WorkerSupplyOptions) {
    this.#idleMs = options.idleMs ?? 0;
    if (!(this.#idleMs >= 0)) {
      throw new RangeError(`Cannot keep a spare JS sandbox: idleMs is ${this.#idleMs}`);
    }
  }

  take(memoryLimitMb: number): SandboxThread {
    const ready = this.#spares.get(memoryLimitMb) ?? [];
    let thread: SandboxThread | undefined;
    while (thread === undefined && ready.length > 0) {
      const spare = ready.shift()!;
      clearTimeout(spare.expiry);
      if (!spare.thread.exited) thread = spare.thread; // one that died while booting is dropped
    }
    if (!this.#closed && !this.#refills.has(memoryLimitMb)) {
      // On a later turn: the sandbox that takes this one posts its sources first.
      const refill = setTimeout(() => this.#refill(memoryLimitMb), 0);
      Deno.unrefTimer(refill);
      this.#refills.set(memoryLimitMb, refill);
    }
    return thread ?? new SandboxThread(memoryLimitMb);
  }

  close(): void {
    this.#closed = true;
    for (const refill of this.#refills.values()) clearTimeout(refill);
    this.#refills.clear();
    for (const ready of this.#spares.values()) {
      for (const spare of ready) {
        clearTimeout(spare.expiry);
        spare.thread.stop();
      }
    }
    this.#spares.clear();
  }

  #refill(memoryLimitMb: number): void {
    this.#refills.delete(memoryLimitMb);
    if (this.#closed) return;
    let ready = this.#spares.get(memoryLimitMb);
    if (ready === undefined) this.#spares.set(memoryLimitMb, ready = []);
    while (ready.length < SPARES) {
      const spare: Spare = { thread: new SandboxThread(memoryLimitMb), expiry: undefined };
      if (this.#idleMs > 0) {
        const expiry = spare.expiry = setTimeout(() => this.#expire(memoryLimitMb, spare), this.#idleMs);
        Deno.unrefTimer(expiry);
      }
      ready.push(spare);
    }
  }

  #expire(memoryLimitMb: number, spare: Spare): void {
    const ready = this.#spares.get(memoryLimitMb);
    const at = ready?.indexOf(spare) ?? -1;
    if (at === -1) return;
    ready!.splice(at, 1);
    spare.thread.stop();
  }
}

/**
 * Creates a supply of sandbox threads that keeps `SPARES` booted once sandboxes are in demand.
 * @example
 * const supply = createWorkerSupply({ idleMs: 300_000 });
 * const pool = createSandboxPool({ ...spec, supply });
 * supply.close();
 * @throws {RangeError} when idleMs is negative
 */
export function createWorkerSupply(options: WorkerSupplyOptions = {}): WorkerSupply {
  return new Supply(options);
}
