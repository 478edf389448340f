/**
 * One Redis connection that is either ready or being re-established in the background. While it is not
 * ready, {@link RedisLink.client} throws at once instead of queueing, so no request waits for Redis.
 * Kept apart from `redis.ts` (and free of node-redis imports) because it is about availability, not commands.
 * The same link holds a single-server, cluster or sentinel client.
 */
import { logger } from "../log.ts";

const log = logger("redis");

/** Reconnect back-off: 100 ms doubling up to 1 s, plus jitter so gateways do not retry in step. */
const RETRY_BASE_MS = 100;
const RETRY_MAX_MS = 1000;
const RETRY_JITTER_MS = 100;

/** What a link needs from a client; `destroy()` must not throw. */
export interface LinkClient {
  connect(): Promise<unknown>;
  destroy(): void;
  on(event: "error", listener: (err: unknown) => void): unknown;
  /**
   * node-redis emits `terminated` when a single-server connection made with `reconnectStrategy: false` is lost
   * for good. Cluster and sentinel clients reconnect their nodes themselves and never emit it; the store calls
   * {@link RedisLink.lost} for them when commands keep failing.
   */
  once(event: "terminated", listener: (cause: unknown) => void): unknown;
}

/** Error codes of a server certificate the client does not trust (Node's names, which Deno keeps). */
const CERTIFICATE_CODES = new Set([
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/**
 * The message of an error, unwrapping the AggregateError Node gives for multi-address connects; a server
 * certificate that fails verification says which settings decide that.
 */
export function reasonOf(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return reasonOf(err.errors[0]);
  const message = err instanceof Error ? err.message || err.name : String(err);
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && CERTIFICATE_CODES.has(code)
    ? `TLS certificate of the server not accepted: ${message} (see storage.ca_file and storage.ssl_insecure_skip_verify)`
    : message;
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
  /** An attempt (connect and `onReady`) that has not finished by then fails; cluster discovery can hang. */
  attemptTimeoutMs: number;
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
    const { make, onReady, name, attemptTimeoutMs } = this.#options;
    let client: C | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      client = make();
      // node-redis emits 'error' for every failure, and an unhandled 'error' event would end the process;
      // the outcome of each failure is handled below.
      client.on("error", (err) => log.debug(`Redis client error: ${reasonOf(err)}`, { addr: name }));
      const ready = client;
      const attempt = (async () => {
        await ready.connect();
        await onReady?.(ready);
      })();
      attempt.catch(() => {}); // it may settle after the timeout below, once the client is destroyed
      await Promise.race([
        attempt,
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${attemptTimeoutMs / 1000} s`)),
            attemptTimeoutMs,
          );
        }),
      ]);
    } catch (err) {
      if (client !== null) client.destroy();
      if (!this.#closed) {
        this.#markDown(reasonOf(err));
        this.#retry();
      }
      return;
    } finally {
      clearTimeout(timer);
    }
    if (this.#closed) return client.destroy();
    const ready = client;
    ready.once("terminated", (cause) => this.lost(ready, reasonOf(cause)));
    this.#client = ready;
    this.#retries = 0;
    if (this.#down !== null) {
      this.#down = null;
      this.#log("info", "Redis connection restored");
    }
  }

  /**
   * Gives up on `client` (when it is still the current one): closes it and reconnects with a fresh client,
   * failing calls fast meanwhile.
   * @param reason why, for the one warning logged
   */
  lost(client: C, reason: string): void {
    if (this.#client !== client) return;
    this.#client = null;
    client.destroy();
    if (this.#closed) return;
    this.#markDown(reason);
    this.#retries = 0;
    this.#retry();
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
    client?.destroy();
  }
}
