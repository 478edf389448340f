/**
 * One Redis connection that is either ready or being re-established in the background. While it is not
 * ready, {@link RedisLink.client} throws at once instead of queueing, so no request waits for Redis.
 * Kept apart from `redis.ts` (and free of node-redis imports) because it is about availability, not commands.
 */
import { logger } from "../log.ts";

const log = logger("redis");

/** Reconnect back-off: 100 ms doubling up to 1 s, plus jitter so gateways do not retry in step. */
const RETRY_BASE_MS = 100;
const RETRY_MAX_MS = 1000;
const RETRY_JITTER_MS = 100;

/** What a link needs from a node-redis client created with `reconnectStrategy: false`. */
export interface LinkClient {
  connect(): Promise<unknown>;
  destroy(): void;
  on(event: "error", listener: (err: unknown) => void): unknown;
  /** node-redis emits `terminated` when a ready connection is lost for good. */
  once(event: "terminated", listener: (cause: unknown) => void): unknown;
}

/** The message of an error, unwrapping the AggregateError Node gives for multi-address connects. */
export function reasonOf(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return reasonOf(err.errors[0]);
  return err instanceof Error ? err.message || err.name : String(err);
}

function destroy(client: LinkClient): void {
  try {
    client.destroy();
  } catch {
    // already closed
  }
}

/** Options of a {@link RedisLink}. */
export interface RedisLinkOptions<C> {
  /** `host:port`, for messages. */
  name: string;
  /** Makes a fresh, unconnected client for each attempt. */
  make: () => C;
  /** Runs on each new connection before it is used (the subscriber re-subscribes here). */
  onReady?: (client: C) => Promise<void>;
  /** Log outages at debug level (a second connection to the same Redis must not repeat the warning). */
  quiet?: boolean;
}

/** A self-healing Redis connection that fails fast while it is down. */
export class RedisLink<C extends LinkClient> {
  #client: C | null = null;
  #connecting: Promise<void> | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #retries = 0;
  #down: string | null = null;
  #closed = false;
  #options: RedisLinkOptions<C>;

  constructor(options: RedisLinkOptions<C>) {
    this.#options = options;
  }

  /**
   * The ready client.
   * @throws Error `Redis unavailable at host:port: <reason>` when there is none.
   */
  client(): C {
    if (this.#client !== null) return this.#client;
    const reason = this.#closed ? "store closed" : this.#down ?? "connecting";
    throw new Error(`Redis unavailable at ${this.#options.name}: ${reason}`);
  }

  /** The ready client, or `null`. */
  current(): C | null {
    return this.#client;
  }

  /** Starts connecting (unless connected or already trying) and resolves when that attempt has settled. */
  connect(): Promise<void> {
    if (this.#closed || this.#client !== null) return Promise.resolve();
    return this.#connecting ??= this.#attempt().finally(() => this.#connecting = null);
  }

  async #attempt(): Promise<void> {
    const { make, onReady, name } = this.#options;
    let client: C | null = null;
    try {
      client = make();
      // node-redis emits 'error' for every failure, and an unhandled 'error' event would end the process;
      // the outcome of each failure is handled below.
      client.on("error", (err) => log.debug(`Redis client error: ${reasonOf(err)}`, { addr: name }));
      await client.connect();
      await onReady?.(client);
    } catch (err) {
      if (client !== null) destroy(client);
      if (!this.#closed) {
        this.#markDown(reasonOf(err));
        this.#retry();
      }
      return;
    }
    if (this.#closed) return destroy(client);
    const ready = client;
    ready.once("terminated", (cause) => {
      if (this.#client !== ready) return;
      this.#client = null;
      destroy(ready);
      if (this.#closed) return;
      this.#markDown(reasonOf(cause));
      this.#retries = 0;
      this.#retry();
    });
    this.#client = ready;
    this.#retries = 0;
    if (this.#down !== null) {
      this.#down = null;
      this.#log("info", "Redis connection restored");
    }
  }

  #log(level: "info" | "warn", msg: string): void {
    if (this.#options.quiet) log.debug(msg, { addr: this.#options.name });
    else log[level](msg);
  }

  #markDown(reason: string): void {
    if (this.#down === null) {
      this.#log("warn", `Redis unavailable at ${this.#options.name}: ${reason}; retrying`);
    }
    this.#down = reason;
  }

  #retry(): void {
    const backoff = Math.min(RETRY_BASE_MS * 2 ** this.#retries++, RETRY_MAX_MS);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.connect();
    }, backoff + Math.random() * RETRY_JITTER_MS);
  }

  /** Stops reconnecting and closes the connection; commands still in flight are rejected. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#connecting;
    const client = this.#client;
    this.#client = null;
    if (client !== null) destroy(client);
  }
}
