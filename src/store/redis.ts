/**
 * The Redis store: Tyk's key layout, stored verbatim (no prefix), so Portcullis and Tyk gateways can share one
 * Redis, a Redis Cluster or a Sentinel-managed primary. Every operation touches one key, or several keys that
 * node-redis splits by hash slot (MGET, DEL), so Tyk's names, which carry no hash tags, work on a cluster.
 * A call that fails because a node dropped or a failover or reshard is under way is sent again with back-off for
 * up to `timeout`; after that the store counts as unavailable: calls reject at once with
 * `Redis unavailable at …`, and a background loop reconnects (logging the outage and the recovery once each).
 */
import { createHash } from "node:crypto";
import { logger } from "../log.ts";
import {
  type ClientRole,
  createRedisClient,
  isNoScript,
  isTransient,
  type RedisClient,
  type RedisSettings,
} from "./_redis_clients.ts";
import { reasonOf, RedisLink } from "./_redis_link.ts";
import { LIMITS_LUA, limitsCall, limitsResult } from "./_limits_script.ts";
import { slidingLogResult } from "./_sliding_log.ts";
import type {
  LimitsResult,
  QuotaCheck,
  RateLimitCheck,
  SlidingLogResult,
  Store,
  Subscription,
} from "./store.ts";

const log = logger("redis");

/** Back-off between tries of one call: 25 ms doubling up to 500 ms, with jitter so gateways do not retry in step. */
const RETRY_BASE_MS = 25;
const RETRY_MAX_MS = 500;

/** Tyk's rolling limiter as one atomic step; scores and members are nanosecond timestamps as Tyk writes them. */
const SLIDING_LOG_LUA = `
local per_ns = tonumber(ARGV[2]) * 1000000000
local now = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - per_ns)
local count = redis.call('ZCARD', KEYS[1])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[2])
local rate = tonumber(ARGV[1])
local reset = 0
if rate >= 1 then
  local oldest = redis.call('ZRANGE', KEYS[1], -rate, -rate, 'WITHSCORES')
  if oldest[2] then reset = math.floor((tonumber(oldest[2]) + per_ns - now) / 1000000 + 0.5) end
end
return {count, reset}`;

/** INCR that sets the expiry only when it created the key, in one step so a crash cannot leave a counter immortal. */
const INCR_LUA = `
local n = redis.call('INCR', KEYS[1])
if n == 1 and tonumber(ARGV[1]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`;

interface Script {
  source: string;
  sha: string;
}

function script(source: string): Script {
  return { source, sha: createHash("sha1").update(source).digest("hex") };
}

const SLIDING_LOG = script(SLIDING_LOG_LUA);
const INCR = script(INCR_LUA);
const LIMITS = script(LIMITS_LUA);

function ttlMs(ttlSeconds: number): number {
  return Math.max(1, Math.round(ttlSeconds * 1000));
}

/** How the store is named in messages: the address, or the seeds and the mode. */
function describe(settings: RedisSettings): string {
  const addrs = settings.addrs.map(({ host, port }) => `${host.includes(":") ? `[${host}]` : host}:${port}`);
  switch (settings.mode) {
    case "single":
      return addrs[0];
    case "cluster":
      return `${addrs.join(",")} (cluster)`;
    case "sentinel":
      return `${addrs.join(",")} (sentinel, primary "${settings.masterName}")`;
  }
}

/**
 * Opens a Redis store. Never throws for an unreachable Redis: the store is returned, its calls reject fast,
 * and it reconnects in the background (logging `Redis unavailable at …; retrying` and `Redis connection
 * restored` once each).
 */
export async function openRedisStore(settings: RedisSettings): Promise<Store> {
  const store = new RedisStore(
    describe(settings),
    settings.timeoutMs,
    (role) => createRedisClient(settings, role),
    settings.mode === "cluster",
  );
  await store.connect();
  return store;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Rejects when `promise` has not settled within `ms`; the late outcome is dropped. */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  promise.catch(() => {});
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

class RedisStore implements Store {
  readonly kind = "redis";
  #name: string;
  #timeoutMs: number;
  #make: (role: ClientRole) => RedisClient;
  #main: RedisLink<RedisClient>;
  #subscriber: RedisLink<RedisClient> | null = null;
  #handlers = new Map<string, Set<(message: string) => void>>();
  /** One node-redis listener per channel, so (re)subscribing twice is a no-op. */
  #dispatchers = new Map<string, (message: string | Uint8Array) => void>();
  /** Sub-microsecond digits of sliding-log members, so two requests in one microsecond stay two entries. */
  #member = Math.floor(Math.random() * 1000);
  /** A cluster refuses one script over keys of different slots, so limits take a call per key there. */
  #cluster: boolean;
  #closed = false;

  constructor(name: string, timeoutMs: number, make: (role: ClientRole) => RedisClient, cluster = false) {
    this.#cluster = cluster;
    this.#name = name;
    this.#timeoutMs = timeoutMs;
    this.#make = make;
    this.#main = new RedisLink({
      name,
      make: () => make("commands"),
      onReady: (client) => client.ready(),
      attemptTimeoutMs: timeoutMs,
    });
  }

  connect(): Promise<void> {
    return this.#main.connect();
  }

  /**
   * Runs one store call. A transient failure (see `isTransient`) is tried again with back-off until the timeout
   * has passed since the first failed try began, which rides out a replica taking over a primary or a slot
   * moving; each try is bounded by the timeout too. A call that still fails gives the connection up (see
   * `RedisLink.lost`). A try may have reached Redis before its connection dropped, so a counter can count one
   * request twice during a failover; for rate limits and quotas that errs on the safe side.
   * @param bounded false for a call made of many commands (a SCAN), which bounds each one itself
   */
  async #run<T>(call: (client: RedisClient) => Promise<T>, bounded = true): Promise<T> {
    let failedAt = 0;
    for (let attempt = 0;; attempt++) {
      const client = this.#main.client(); // throws at once while Redis is unavailable
      const tried = Date.now();
      try {
        return await (bounded ? within(call(client), this.#timeoutMs) : call(client));
      } catch (err) {
        if (!isTransient(err)) throw err;
        failedAt ||= bounded ? tried : Date.now(); // a long SCAN that fails late still gets its retries
        const backoff = Math.min(RETRY_BASE_MS * 2 ** attempt, RETRY_MAX_MS) * (0.5 + Math.random() / 2);
        if (Date.now() + backoff - failedAt > this.#timeoutMs) {
          this.#main.lost(client, reasonOf(err));
          throw err;
        }
        log.debug(`Retrying a Redis call: ${reasonOf(err)}`, { addr: this.#name, attempt: attempt + 1 });
        await sleep(backoff);
      }
    }
  }

  /**
   * Runs a script (EVALSHA, then EVAL when the node has not cached it: each node, and a replica just promoted,
   * has its own cache). In cluster mode the node is the one that owns the first key, and Redis refuses keys
   * of different slots in one script, so a caller with keys in several slots makes one call per slot.
   */
  async #eval(script: Script, keys: string[], args: string[]): Promise<unknown> {
    const count = String(keys.length);
    return await this.#run(async (client) => {
      try {
        return await client.sendKeyed(keys[0], ["EVALSHA", script.sha, count, ...keys, ...args]);
      } catch (err) {
        if (!isNoScript(err)) throw err;
        return await client.sendKeyed(keys[0], ["EVAL", script.source, count, ...keys, ...args]);
      }
    });
  }

  get(key: string): Promise<string | null> {
    return this.#run((client) => client.commands.get(key));
  }

  async getMany(keys: string[]): Promise<(string | null)[]> {
    if (keys.length === 0) return [];
    return await this.#run((client) => client.commands.mGet(keys));
  }

  async set(key: string, value: string, ttlSeconds = 0): Promise<void> {
    const expiration = ttlSeconds > 0 ? { type: "PX" as const, value: ttlMs(ttlSeconds) } : undefined;
    await this.#run((client) => client.commands.set(key, value, { expiration }));
  }

  setIfExists(key: string, value: string, ttlSeconds = 0): Promise<boolean> {
    return this.#setIf(key, value, ttlSeconds, "XX");
  }

  setIfAbsent(key: string, value: string, ttlSeconds = 0): Promise<boolean> {
    return this.#setIf(key, value, ttlSeconds, "NX");
  }

  async #setIf(key: string, value: string, ttlSeconds: number, condition: "XX" | "NX"): Promise<boolean> {
    const expiration = ttlSeconds > 0 ? { type: "PX" as const, value: ttlMs(ttlSeconds) } : undefined;
    return (await this.#run((client) => client.commands.set(key, value, { condition, expiration }))) !== null;
  }

  async delete(...keys: string[]): Promise<number> {
    if (keys.length === 0) return 0;
    return await this.#run((client) => client.commands.del(keys));
  }

  keys(prefix: string): Promise<string[]> {
    const match = prefix.replace(/[*?[\]\\]/g, "\\$&") + "*";
    return this.#run(async (client) => {
      const found = new Set<string>(); // SCAN may return a key twice
      const batches = client.scan(match);
      // each SCAN round trip gets the timeout (node-redis's own stops counting once a command is sent)
      for (let next = await within(batches.next(), this.#timeoutMs); !next.done;) {
        for (const key of next.value) found.add(key);
        next = await within(batches.next(), this.#timeoutMs);
      }
      return [...found];
    }, false);
  }

  ttl(key: string): Promise<number> {
    return this.#run((client) => client.commands.ttl(key));
  }

  async incr(key: string, ttlSeconds = 0): Promise<number> {
    const ms = ttlSeconds > 0 ? ttlMs(ttlSeconds) : 0;
    return Number(await this.#eval(INCR, [key], [String(ms)]));
  }

  async slidingLog(key: string, rate: number, perSeconds: number, nowMs: number): Promise<SlidingLogResult> {
    rate = Math.trunc(rate);
    const ns = this.#nanos(nowMs);
    const reply = await this.#eval(SLIDING_LOG, [key], [
      String(rate),
      String(Math.trunc(perSeconds)),
      ns,
      ns,
    ]);
    const [count, resetMs] = reply as [number, number];
    return slidingLogResult(Number(count), rate, Number(resetMs));
  }

  /** A sliding-log score and member for a request at `nowMs`: nanoseconds, unique within this process. */
  #nanos(nowMs: number): string {
    this.#member = (this.#member + 1) % 1000;
    // microseconds, then three digits of the member: the same number as µs × 1000 + member, without BigInt
    return `${Math.floor(nowMs * 1000)}${String(this.#member).padStart(3, "0")}`;
  }

  async checkLimits(
    rate: RateLimitCheck | null,
    quota: QuotaCheck | null,
    nowMs: number,
  ): Promise<LimitsResult> {
    const ns = rate?.kind === "sliding" ? this.#nanos(nowMs) : "0";
    if (this.#cluster && rate !== null && quota !== null) {
      // Tyk's two keys carry no hash tag, so on a cluster they usually live on different nodes
      const first = limitsCall(rate, null, ns, ns);
      const limited = limitsResult(await this.#eval(LIMITS, first.keys, first.args), rate, null);
      if (limited.rate!.blocked) return limited;
      const second = limitsCall(null, quota, ns, ns);
      const counted = limitsResult(await this.#eval(LIMITS, second.keys, second.args), null, quota);
      return { rate: limited.rate, quota: counted.quota };
    }
    const call = limitsCall(rate, quota, ns, ns);
    return limitsResult(await this.#eval(LIMITS, call.keys, call.args), rate, quota);
  }

  async publish(channel: string, message: string): Promise<void> {
    await this.#run((client) => client.commands.publish(channel, message));
  }

  async subscribe(channel: string, onMessage: (message: string) => void): Promise<Subscription> {
    if (this.#closed) throw new Error(`Redis unavailable at ${this.#name}: store closed`);
    let handlers = this.#handlers.get(channel);
    if (handlers === undefined) {
      handlers = new Set();
      this.#handlers.set(channel, handlers);
      this.#dispatchers.set(channel, (message) => this.#deliver(channel, message));
    }
    handlers.add(onMessage);
    this.#subscriber ??= new RedisLink({
      name: this.#name,
      make: () => this.#make("subscriber"),
      onReady: (client) => this.#subscribeAll(client),
      quiet: true,
      attemptTimeoutMs: this.#timeoutMs,
    });
    await this.#subscriber.connect();
    // A connection that came up before this channel was added has not subscribed it yet.
    const client = this.#subscriber.current();
    const dispatcher = this.#dispatchers.get(channel);
    if (client !== null && dispatcher !== undefined) {
      try {
        await client.commands.subscribe(channel, dispatcher);
      } catch (err) {
        // The connection just failed; the next one subscribes every channel in the map.
        log.debug(`Cannot subscribe to "${channel}" yet: ${reasonOf(err)}`);
      }
    }
    return { close: () => this.#unsubscribe(channel, onMessage) };
  }

  async #subscribeAll(client: RedisClient): Promise<void> {
    for (const [channel, dispatcher] of this.#dispatchers) {
      await client.commands.subscribe(channel, dispatcher);
    }
  }

  #deliver(channel: string, message: string | Uint8Array): void {
    const text = typeof message === "string" ? message : new TextDecoder().decode(message);
    for (const handler of this.#handlers.get(channel) ?? []) {
      try {
        handler(text);
      } catch (err) {
        log.error(`Cannot handle message on "${channel}": ${reasonOf(err)}`);
      }
    }
  }

  async #unsubscribe(channel: string, onMessage: (message: string) => void): Promise<void> {
    const handlers = this.#handlers.get(channel);
    if (handlers === undefined || !handlers.delete(onMessage) || handlers.size > 0) return;
    const dispatcher = this.#dispatchers.get(channel);
    this.#handlers.delete(channel);
    this.#dispatchers.delete(channel);
    const client = this.#subscriber?.current() ?? null;
    if (client === null || dispatcher === undefined) return;
    try {
      await client.commands.unsubscribe(channel, dispatcher);
    } catch {
      // the connection went away; a new one only subscribes channels still in the map
    }
  }

  async ping(): Promise<boolean> {
    const client = this.#main.current();
    if (client === null) return false;
    try {
      return (await within(client.commands.ping(), this.#timeoutMs)) === "PONG";
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([this.#main.close(), this.#subscriber?.close()]);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
