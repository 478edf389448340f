/**
 * Bounds the gateway's client connections: how many may be open at once, and how long each may go without
 * a complete request head or with a response not yet sent. Tyk gets the time limits from Go's `http.Server`
 * (`ReadTimeout`/`WriteTimeout` from `http_server_options`, 120 s each; its idle keep-alive limit falls back
 * to `ReadTimeout`); Deno.serve has none, so every connection is registered here and one periodic sweep
 * closes those past their deadline. Per request this costs no timer and no clock read: deadlines are set
 * from the time of the last sweep plus one sweep interval, so a connection is never closed before its
 * timeout and at most two intervals after it.
 */
import type { Logger } from "../log.ts";

/** Options of the guard, resolved once from `tyk.conf`. */
export interface ConnectionGuardOptions {
  /**
   * `http_server_options.read_timeout` in ms: from accepting a connection, or from the end of its last
   * response, to a complete request head. Covers idle keep-alive connections and slowloris clients alike.
   */
  readTimeoutMs: number;
  /**
   * `http_server_options.write_timeout` in ms: from a complete request head to the end of its response,
   * the request body included.
   */
  writeTimeoutMs: number;
  /** Connections open at once, across every listener; more are refused. */
  maxConnections: number;
  log: Logger;
  /** Clock in ms; tests pass their own. @default performance.now */
  now?: () => number;
}

/** How often refusals and accept failures may be logged: one line per window, with a count. */
const LOG_EVERY_MS = 10_000;

/** One open connection as the guard sees it. */
export class GuardedConnection {
  /** When the connection is closed unless something happens first. */
  deadline: number;
  /** Requests whose response has not been sent yet (HTTP/2 can have several). */
  inflight = 0;
  readonly #guard: ConnectionGuard;
  readonly close: () => void;

  constructor(guard: ConnectionGuard, close: () => void, deadline: number) {
    this.#guard = guard;
    this.close = close;
    this.deadline = deadline;
  }

  /** A request head arrived: the response must be sent within write_timeout. */
  requestStarted(): void {
    this.inflight++;
    this.deadline = this.#guard.writeDeadline();
  }

  /** A response was sent (or failed): once none is left, the next request head is due within read_timeout. */
  readonly requestEnded = (): void => {
    if (--this.inflight > 0) return;
    this.inflight = 0;
    this.deadline = this.#guard.readDeadline();
  };
}

/** The open connections of every listener, their deadlines and the cap. */
export class ConnectionGuard {
  readonly readTimeoutMs: number;
  readonly writeTimeoutMs: number;
  readonly maxConnections: number;
  /** How often the sweep runs, in ms. */
  readonly sweepEveryMs: number;
  readonly #now: () => number;
  /** The clock as of the last sweep or accept. */
  #clock: number;
  readonly #open = new Set<GuardedConnection>();
  readonly #log: Logger;
  #timer: ReturnType<typeof setInterval> | undefined;
  #closeWaiters: (() => void)[] = [];
  #refused = 0;
  #refusedLoggedAt = -Infinity;
  #acceptFailures = 0;
  #acceptLoggedAt = -Infinity;

  constructor(options: ConnectionGuardOptions) {
    for (const name of ["readTimeoutMs", "writeTimeoutMs", "maxConnections"] as const) {
      if (!(options[name] > 0)) {
        throw new RangeError(`Cannot guard connections: ${name} must be above 0, got ${options[name]}`);
      }
    }
    this.readTimeoutMs = options.readTimeoutMs;
    this.writeTimeoutMs = options.writeTimeoutMs;
    this.maxConnections = options.maxConnections;
    this.#now = options.now ?? (() => performance.now());
    this.#clock = this.#now();
    // a quarter of the shorter timeout keeps the overshoot small; at most once a second
    this.sweepEveryMs = Math.min(1000, Math.max(50, Math.min(this.readTimeoutMs, this.writeTimeoutMs) / 4));
    this.#log = options.log;
  }

  /** When a response started now must have been sent; the interval makes up for the clock's age. */
  writeDeadline(): number {
    return this.#clock + this.writeTimeoutMs + this.sweepEveryMs;
  }

  /** When a request head awaited from now must have arrived. */
  readDeadline(): number {
    return this.#clock + this.readTimeoutMs + this.sweepEveryMs;
  }

  /** Connections open now. */
  get size(): number {
    return this.#open.size;
  }

  /** Whether another connection may be accepted. */
  hasRoom(): boolean {
    return this.#open.size < this.maxConnections;
  }

  /**
   * Registers an accepted connection; its request head is due within read_timeout.
   * @param close closes the connection at once (called when a deadline passes, or by {@link closeAll})
   */
  add(close: () => void): GuardedConnection {
    this.#clock = this.#now();
    const connection = new GuardedConnection(this, close, this.#clock + this.readTimeoutMs);
    this.#open.add(connection);
    this.#startSweeping();
    return connection;
  }

  /** Forgets a connection that closed, and wakes an accept loop waiting for room. */
  delete(connection: GuardedConnection): void {
    if (!this.#open.delete(connection)) return;
    if (this.#closeWaiters.length > 0) {
      const waiters = this.#closeWaiters;
      this.#closeWaiters = [];
      for (const wake of waiters) wake();
    }
    if (this.#open.size === 0) this.#stopSweeping();
  }

  /** Resolves when some connection closes, or after `ms`, whichever comes first. */
  waitForClose(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#closeWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Closes every connection past its deadline; returns how many. */
  sweep(): number {
    const now = this.#clock = this.#now();
    let closed = 0;
    for (const connection of this.#open) {
      if (connection.deadline > now) continue;
      this.#log.debug("Closing a connection past its deadline", {
        waiting_for: connection.inflight > 0 ? "response (write_timeout)" : "request (read_timeout)",
      });
      this.delete(connection);
      connection.close();
      closed++;
    }
    return closed;
  }

  /** Notes a connection refused at the cap, logging at most once per window. */
  refused(): void {
    this.#refused++;
    const now = this.#now();
    if (now - this.#refusedLoggedAt < LOG_EVERY_MS) return;
    this.#log.warn("Refusing new connections: max_connections are open", {
      max_connections: this.maxConnections,
      refused: this.#refused,
    });
    this.#refusedLoggedAt = now;
    this.#refused = 0;
  }

  /** Notes an accept that failed (usually no descriptor left), logging at most once per window. */
  acceptFailed(err: unknown): void {
    this.#acceptFailures++;
    const now = this.#now();
    if (now - this.#acceptLoggedAt < LOG_EVERY_MS) return;
    this.#log.error("Cannot accept connections; new ones wait until open ones close", {
      error: err instanceof Error ? err.message : String(err),
      open: this.#open.size,
      failures: this.#acceptFailures,
    });
    this.#acceptLoggedAt = now;
    this.#acceptFailures = 0;
  }

  /** Closes every connection (gateway stop). */
  closeAll(): void {
    for (const connection of this.#open) connection.close();
    this.#open.clear();
    this.#stopSweeping();
  }

  #startSweeping(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.sweep(), this.sweepEveryMs);
    Deno.unrefTimer(this.#timer);
  }

  #stopSweeping(): void {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
