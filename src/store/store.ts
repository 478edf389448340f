/**
 * The storage contract every gateway part uses: session records, counters, the plugin KV and pub/sub.
 * `embedded.ts` (Deno KV, one node) and `redis.ts` (Tyk's Redis layout, many nodes) implement it.
 * Names passed in are Tyk's Redis key names without any prefix added here (`apikey-…`, `quota-…`),
 * so the Redis implementation can store them verbatim and share them with real Tyk gateways.
 */

/** Result of one sliding-log rate-limit check. */
export interface SlidingLogResult {
  /** True when the request is over the limit. */
  blocked: boolean;
  /** Requests left in the window after this one (never negative). */
  remaining: number;
  /** Milliseconds until the oldest entry leaves the window (0 when not exhausted). */
  resetMs: number;
}

/**
 * Which rate limiter a check uses: `"sliding"` is Tyk's Redis rolling limiter (a log of request times);
 * `"window"` is a fixed window that opens at the first request and closes `per` seconds later, the way Tyk's
 * default in-memory limiter counts on one node.
 */
export type RateLimiterKind = "sliding" | "window";

/** The rate limit of one request. */
export interface RateLimitCheck {
  kind: RateLimiterKind;
  /** The limiter's key (`rate-limit-…`). */
  key: string;
  /** Requests allowed per window; truncated to an integer. */
  rate: number;
  /** The window in seconds; truncated to an integer. */
  per: number;
  /** Work out `resetMs` (one more lookup on Redis); with `false` a store may leave it 0. @default true */
  reset?: boolean;
}

/** The quota of one request. */
export interface QuotaCheck {
  /** The counter's key (`quota-…`). */
  key: string;
  /** Seconds until the counter starts again; 0 or less: it never does. */
  renewalSeconds: number;
}

/** What a quota counter says after one request was counted. */
export interface QuotaResult {
  /** Requests counted in this window, this one included (blocked ones count too, as in Tyk). */
  used: number;
  /** Milliseconds until the window ends; -1 when the counter never renews. */
  resetMs: number;
}

/** The outcome of {@link Store.checkLimits}. */
export interface LimitsResult {
  /** `null` when no rate limit was checked. */
  rate: SlidingLogResult | null;
  /** `null` when no quota was checked, or when the rate limit blocked the request (nothing is counted then). */
  quota: QuotaResult | null;
}

/** A handle to a subscription; closing it stops delivery. */
export interface Subscription {
  close(): Promise<void>;
}

/** The storage a gateway runs on. */
export interface Store extends AsyncDisposable {
  /** `"embedded"` or `"redis"`, for logs and `/hello`. */
  readonly kind: "embedded" | "redis";

  /** Reads a string value, or `null` when absent or expired. */
  get(key: string): Promise<string | null>;
  /** Reads several string values in one round trip (Redis MGET); absent ones are `null`. */
  getMany(keys: string[]): Promise<(string | null)[]>;
  /**
   * Writes a string value; durable when the promise resolves.
   * @param ttlSeconds expiry; 0 or less means none.
   */
  set(key: string, value: string, ttlSeconds?: number): Promise<void>;
  /** Writes only if the key exists (Redis `SET … XX`), keeping the TTL given; returns whether it wrote. */
  setIfExists(key: string, value: string, ttlSeconds?: number): Promise<boolean>;
  /** Writes only if the key is absent (Redis `SET … NX`); returns whether it wrote. */
  setIfAbsent(key: string, value: string, ttlSeconds?: number): Promise<boolean>;
  /** Deletes keys; returns how many existed. */
  delete(...keys: string[]): Promise<number>;
  /** Lists key names starting with `prefix` (Redis SCAN `prefix*`). */
  keys(prefix: string): Promise<string[]>;
  /** Seconds to live: -1 without expiry, -2 when absent (Redis TTL semantics). */
  ttl(key: string): Promise<number>;
  /**
   * Increments an integer counter and returns the new value. When `ttlSeconds > 0` and this call
   * created the key, the expiry is set (Tyk's quota window and `TykStorageIncr`).
   */
  incr(key: string, ttlSeconds?: number): Promise<number>;
  /** One sliding-log rate-limit step (Tyk's Redis rolling limiter): counts, adds now, trims the window. */
  slidingLog(key: string, rate: number, perSeconds: number, nowMs: number): Promise<SlidingLogResult>;

  /**
   * Checks a request's rate limit, then (unless it blocked) counts it against its quota, in one step: one
   * Redis round trip, or memory only on the embedded store (its quota counters reach the file in the
   * background).
   */
  checkLimits(rate: RateLimitCheck | null, quota: QuotaCheck | null, nowMs: number): Promise<LimitsResult>;

  /** Publishes a message on a channel (Tyk's `tyk.cluster.notifications`). */
  publish(channel: string, message: string): Promise<void>;
  /** Subscribes to a channel; messages published by this node are delivered too. */
  subscribe(channel: string, onMessage: (message: string) => void): Promise<Subscription>;

  /** True when the store answers (used by `/hello` and `/ready`). */
  ping(): Promise<boolean>;
  /** Closes connections or files; safe to call twice. */
  close(): Promise<void>;
}
