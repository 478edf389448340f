/**
 * The Redis store: Tyk's key layout, stored verbatim (no prefix), so Portcullis and Tyk gateways can share one
 * Redis. The only module that imports node-redis. While Redis is unreachable every call rejects at once with
 * `Redis unavailable at host:port: …` (no offline queue, nothing waits), and a background loop reconnects.
 */
import { createHash } from "node:crypto";
import { createClient } from "redis";
import { logger } from "../log.ts";
import { reasonOf, RedisLink } from "./_redis_link.ts";
import { slidingLogResult } from "./_sliding_log.ts";
import type { SlidingLogResult, Store, Subscription } from "./store.ts";

const log = logger("redis");

/** Connection settings, from tyk.conf `storage`. */
export interface RedisStoreOptions {
  /** Redis host, used when `addrs` is empty. @default "localhost" */
  host?: string;
  /** Redis port, used when `addrs` is empty. @default 6379 */
  port?: number;
  /** `["host:port", …]`: the first entry wins over `host`/`port` (cluster mode is not supported). @default [] */
  addrs?: string[];
  /** ACL user name (Redis 6+). @default "" */
  username?: string;
  /** AUTH password. @default "" */
  password?: string;
  /** Database number to SELECT. @default 0 */
  database?: number;
  /** Connect and command timeout in seconds. @default 5 */
  timeoutSeconds?: number;
}

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

interface ClientSettings {
  host: string;
  port: number;
  username?: string;
  password?: string;
  database?: number;
  timeoutMs: number;
}

/** A node-redis client that never queues offline and never reconnects by itself (a {@link RedisLink} does). */
function newClient(settings: ClientSettings) {
  return createClient({
    socket: {
      host: settings.host,
      port: settings.port,
      connectTimeout: settings.timeoutMs,
      reconnectStrategy: false,
    },
    username: settings.username || undefined,
    password: settings.password || undefined,
    database: settings.database || undefined,
    disableOfflineQueue: true,
    commandOptions: { timeout: settings.timeoutMs },
  });
}

type Client = ReturnType<typeof newClient>;

interface Script {
  source: string;
  sha: string;
}

function script(source: string): Script {
  return { source, sha: createHash("sha1").update(source).digest("hex") };
}

const SLIDING_LOG = script(SLIDING_LOG_LUA);
const INCR = script(INCR_LUA);

function ttlMs(ttlSeconds: number): number {
  return Math.max(1, Math.round(ttlSeconds * 1000));
}

/** Splits `host:port` or `[v6]:port`. */
function parseAddr(addr: string): { host: string; port: number } {
  const match = /^\[?(.*?)\]?:(\d+)$/.exec(addr);
  if (match === null) throw new RangeError(`Cannot use Redis address "${addr}": expected host:port`);
  return { host: match[1], port: Number(match[2]) };
}

/**
 * Opens a Redis store. Never throws for an unreachable Redis: the store is returned, its calls reject fast,
 * and it reconnects in the background (logging `Redis unavailable at …; retrying` and `Redis connection
 * restored` once each).
 * @throws RangeError for a malformed `addrs` entry.
 */
export async function openRedisStore(options: RedisStoreOptions): Promise<Store> {
  const addrs = options.addrs ?? [];
  if (addrs.length > 1) log.warn(`Redis cluster is not supported: using only ${addrs[0]} of storage.addrs`);
  const { host, port } = addrs.length > 0
    ? parseAddr(addrs[0])
    : { host: options.host || "localhost", port: options.port || 6379 };
  const settings: ClientSettings = {
    host,
    port,
    username: options.username,
    password: options.password,
    database: options.database,
    timeoutMs: (options.timeoutSeconds || 5) * 1000,
  };
  const store = new RedisStore(`${host}:${port}`, () => newClient(settings));
  await store.connect();
  return store;
}

class RedisStore implements Store {
  readonly kind = "redis";
  #name: string;
  #make: () => Client;
  #main: RedisLink<Client>;
  #subscriber: RedisLink<Client> | null = null;
  #handlers = new Map<string, Set<(message: string) => void>>();
  /** One node-redis listener per channel, so (re)subscribing twice is a no-op. */
  #dispatchers = new Map<string, (message: string) => void>();
  /** Sub-microsecond digits of sliding-log members, so two requests in one microsecond stay two entries. */
  #member = Math.floor(Math.random() * 1000);
  #closed = false;

  constructor(name: string, make: () => Client) {
    this.#name = name;
    this.#make = make;
    this.#main = new RedisLink({ name, make });
  }

  connect(): Promise<void> {
    return this.#main.connect();
  }

  async #eval(script: Script, key: string, args: string[]): Promise<unknown> {
    const client = this.#main.client();
    try {
      return await client.sendCommand(["EVALSHA", script.sha, "1", key, ...args]);
    } catch (err) {
      if (!reasonOf(err).startsWith("NOSCRIPT")) throw err;
      return await client.sendCommand(["EVAL", script.source, "1", key, ...args]);
    }
  }

  async get(key: string): Promise<string | null> {
    return await this.#main.client().get(key);
  }

  async getMany(keys: string[]): Promise<(string | null)[]> {
    if (keys.length === 0) return [];
    return await this.#main.client().mGet(keys);
  }

  async set(key: string, value: string, ttlSeconds = 0): Promise<void> {
    const client = this.#main.client();
    if (ttlSeconds > 0) {
      await client.set(key, value, { expiration: { type: "PX", value: ttlMs(ttlSeconds) } });
    } else await client.set(key, value);
  }

  async setIfExists(key: string, value: string, ttlSeconds = 0): Promise<boolean> {
    return await this.#setIf(key, value, ttlSeconds, "XX");
  }

  async setIfAbsent(key: string, value: string, ttlSeconds = 0): Promise<boolean> {
    return await this.#setIf(key, value, ttlSeconds, "NX");
  }

  async #setIf(key: string, value: string, ttlSeconds: number, condition: "XX" | "NX"): Promise<boolean> {
    const expiration = ttlSeconds > 0 ? { type: "PX" as const, value: ttlMs(ttlSeconds) } : undefined;
    return (await this.#main.client().set(key, value, { condition, expiration })) !== null;
  }

  async delete(...keys: string[]): Promise<number> {
    if (keys.length === 0) return 0;
    return await this.#main.client().del(keys);
  }

  async keys(prefix: string): Promise<string[]> {
    const match = prefix.replace(/[*?[\]\\]/g, "\\$&") + "*";
    const found = new Set<string>(); // SCAN may return a key twice
    for await (const batch of this.#main.client().scanIterator({ MATCH: match, COUNT: 1000 })) {
      for (const key of batch) found.add(key);
    }
    return [...found];
  }

  async ttl(key: string): Promise<number> {
    return await this.#main.client().ttl(key);
  }

  async incr(key: string, ttlSeconds = 0): Promise<number> {
    const ms = ttlSeconds > 0 ? ttlMs(ttlSeconds) : 0;
    return Number(await this.#eval(INCR, key, [String(ms)]));
  }

  async slidingLog(key: string, rate: number, perSeconds: number, nowMs: number): Promise<SlidingLogResult> {
    rate = Math.trunc(rate);
    this.#member = (this.#member + 1) % 1000;
    const ns = (BigInt(Math.floor(nowMs * 1000)) * 1000n + BigInt(this.#member)).toString();
    const reply = await this.#eval(SLIDING_LOG, key, [String(rate), String(Math.trunc(perSeconds)), ns, ns]);
    const [count, resetMs] = reply as [number, number];
    return slidingLogResult(Number(count), rate, Number(resetMs));
  }

  async publish(channel: string, message: string): Promise<void> {
    await this.#main.client().publish(channel, message);
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
      make: this.#make,
      onReady: (client) => this.#subscribeAll(client),
      quiet: true,
    });
    await this.#subscriber.connect();
    // A connection that came up before this channel was added has not subscribed it yet.
    const client = this.#subscriber.current();
    const dispatcher = this.#dispatchers.get(channel);
    if (client !== null && dispatcher !== undefined) {
      try {
        await client.subscribe(channel, dispatcher);
      } catch (err) {
        // The connection just failed; the next one subscribes every channel in the map.
        log.debug(`Cannot subscribe to "${channel}" yet: ${reasonOf(err)}`);
      }
    }
    return { close: () => this.#unsubscribe(channel, onMessage) };
  }

  async #subscribeAll(client: Client): Promise<void> {
    for (const [channel, dispatcher] of this.#dispatchers) await client.subscribe(channel, dispatcher);
  }

  #deliver(channel: string, message: string): void {
    for (const handler of this.#handlers.get(channel) ?? []) {
      try {
        handler(message);
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
      await client.unsubscribe(channel, dispatcher);
    } catch {
      // the connection went away; a new one only subscribes channels still in the map
    }
  }

  async ping(): Promise<boolean> {
    const client = this.#main.current();
    if (client === null) return false;
    try {
      return (await client.ping()) === "PONG";
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
