/**
 * node-redis clients for the three ways Tyk reaches Redis: one server, a Redis Cluster (`enable_cluster`)
 * and a primary found through Sentinel (`master_name`). The only module that imports node-redis; it hands the
 * store one shape for all three, so the store's code knows no mode. Topology (slots, redirections, failovers
 * announced by sentinels) is node-redis's work; the store adds retries and availability on top.
 */
import { createClient, createCluster, createSentinel, ErrorReply, type SetOptions } from "redis";
import { guardTlsAlerts, tlsAlertSince } from "./_tls_alerts.ts";

/** A `host:port` the client starts from. */
export interface RedisAddr {
  host: string;
  port: number;
}

/** TLS to Redis, with the PEM files already read. */
export interface RedisTls {
  /** Trusted CA certificates; the system's when absent. */
  ca?: string;
  /** Client certificate and key (mutual TLS). */
  cert?: string;
  key?: string;
  /** False for Tyk's `ssl_insecure_skip_verify`: any certificate, any name. */
  verify: boolean;
  minVersion: "TLSv1.2" | "TLSv1.3";
  maxVersion: "TLSv1.2" | "TLSv1.3";
}

/** How to reach Redis, resolved from tyk.conf `storage`. */
export interface RedisSettings {
  /** `single`: the first address; `cluster`: seed nodes; `sentinel`: the sentinels. */
  mode: "single" | "cluster" | "sentinel";
  addrs: RedisAddr[];
  username?: string;
  password?: string;
  /** Database to SELECT (not in cluster mode). */
  database?: number;
  /** The name the sentinels know the primary by. */
  masterName?: string;
  /** `requirepass` of the sentinels. */
  sentinelPassword?: string;
  tls?: RedisTls;
  /** Connect timeout and command timeout. */
  timeoutMs: number;
}

/** A channel listener; node-redis hands over text, or bytes to a listener that asked for them. */
export type ChannelListener = (message: string | Uint8Array) => void;

/** The commands the store sends that look the same on all three node-redis clients. */
export interface RedisCommands {
  get(key: string): Promise<string | null>;
  mGet(keys: string[]): Promise<(string | null)[]>;
  set(key: string, value: string, options?: SetOptions): Promise<string | null>;
  del(keys: string[]): Promise<number>;
  ttl(key: string): Promise<number>;
  publish(channel: string, message: string): Promise<number>;
  ping(): Promise<string>;
  subscribe(channel: string, listener: ChannelListener): Promise<void>;
  unsubscribe(channel: string, listener: ChannelListener): Promise<unknown>;
}

/** One node-redis client (of any mode) as the store and its {@link RedisLink} use it. */
export interface RedisClient {
  commands: RedisCommands;
  connect(): Promise<unknown>;
  destroy(): void;
  on(event: "error", listener: (err: unknown) => void): unknown;
  once(event: "terminated", listener: (cause: unknown) => void): unknown;
  /**
   * Resolves once a connected client can serve keys; a cluster whose nodes answer but that has not yet agreed
   * that every slot is served rejects, so the store does not call Redis back before it really is.
   */
  ready(): Promise<void>;
  /** Sends a raw command (EVALSHA, EVAL) to the node that owns `key`. */
  sendKeyed(key: string, args: string[]): Promise<unknown>;
  /** Batches of key names matching `match`, from every primary in cluster mode. */
  scan(match: string): AsyncGenerator<string[]>;
}

/** What a client is for: commands, or a connection that only listens to channels. */
export type ClientRole = "commands" | "subscriber";

/** Server errors worth another try: the cluster or the primary is changing hands and answers again soon. */
const TRANSIENT_REPLY = /^(CLUSTERDOWN|TRYAGAIN|LOADING|MASTERDOWN|READONLY)\b/;

/**
 * True when a failed command may succeed if sent again: the connection dropped, the client is reconnecting,
 * or Redis answered that a failover or reshard is under way. Wrong types, bad arguments and bad scripts are not.
 */
export function isTransient(err: unknown): boolean {
  if (err instanceof ErrorReply) return TRANSIENT_REPLY.test(err.message);
  return err instanceof Error && !(err instanceof TypeError) && !(err instanceof RangeError);
}

/** True when Redis answered that the script is not cached on that node (EVALSHA before EVAL). */
export function isNoScript(err: unknown): boolean {
  return err instanceof ErrorReply && err.message.startsWith("NOSCRIPT");
}

const RETRY_BASE_MS = 50;
const RETRY_MAX_MS = 1000;

/** Reconnect back-off of cluster and sentinel node connections (their topology logic needs them to retry). */
function nodeBackoff(retries: number): number {
  return Math.min(RETRY_BASE_MS * 2 ** retries, RETRY_MAX_MS) + Math.floor(Math.random() * RETRY_BASE_MS);
}

function tlsSocket(tls: RedisTls | undefined) {
  if (tls === undefined) return {};
  return {
    tls: true as const,
    ca: tls.ca,
    cert: tls.cert,
    key: tls.key,
    rejectUnauthorized: tls.verify,
    minVersion: tls.minVersion,
    maxVersion: tls.maxVersion,
  };
}

/** Calls destroy() on any node-redis client, whose destroy may be sync, async, or throw when already closed. */
function destroyQuietly(destroy: () => unknown): void {
  try {
    const done = destroy();
    if (done instanceof Promise) done.catch(() => {});
  } catch {
    // already closed
  }
}

/** What every node-redis client (single, cluster, sentinel) has in the same shape. */
interface NodeRedisClient extends RedisCommands {
  connect(): Promise<unknown>;
  destroy(): unknown;
  on(event: "error", listener: (err: unknown) => void): unknown;
  once(event: "terminated", listener: (cause: unknown) => void): unknown;
}

/** The mode-independent part of a {@link RedisClient}, around a node-redis client. */
function common(client: NodeRedisClient) {
  return {
    commands: client,
    connect: () => client.connect(),
    destroy: () => destroyQuietly(() => client.destroy()),
    on: (event: "error", listener: (err: unknown) => void) => client.on(event, listener),
    once: (event: "terminated", listener: (cause: unknown) => void) => client.once(event, listener),
  };
}

function single(settings: RedisSettings): RedisClient {
  const { host, port } = settings.addrs[0];
  const client = createClient({
    socket: {
      host,
      port,
      connectTimeout: settings.timeoutMs,
      // a RedisLink reconnects, so commands fail fast while the server is gone instead of waiting
      reconnectStrategy: false,
      ...tlsSocket(settings.tls),
    },
    username: settings.username || undefined,
    password: settings.password || undefined,
    database: settings.database || undefined,
    disableOfflineQueue: true,
    commandOptions: { timeout: settings.timeoutMs },
  });
  return {
    ...common(client),
    ready: () => Promise.resolve(),
    sendKeyed: (_key, args) => client.sendCommand(args),
    scan: (match) => client.scanIterator({ MATCH: match, COUNT: 1000 }),
  };
}

function cluster(settings: RedisSettings, role: ClientRole): RedisClient {
  const client = createCluster({
    rootNodes: settings.addrs.map((socket) => ({ socket })),
    defaults: {
      socket: {
        connectTimeout: settings.timeoutMs,
        reconnectStrategy: nodeBackoff,
        ...tlsSocket(settings.tls),
      },
      username: settings.username || undefined,
      password: settings.password || undefined,
      // a node that is down fails its commands at once; the store retries them while a replica takes over
      disableOfflineQueue: true,
    },
    commandOptions: { timeout: settings.timeoutMs },
    // look for a new primary soon after a node drops, not after node-redis's default 5 s
    topologyRefreshOnReconnectionAttemptStrategy: 500,
    // the subscriber needs only the node it listens on
    minimizeConnections: role === "subscriber",
  });
  return {
    ...common(client),
    async ready() {
      const info = String(await client.sendCommand(undefined, true, ["CLUSTER", "INFO"]));
      if (!info.includes("cluster_state:ok")) {
        throw new Error("CLUSTERDOWN the cluster does not serve every slot yet");
      }
    },
    sendKeyed: (key, args) => client.sendCommand(key, false, args),
    async *scan(match) {
      // node-redis walks the primaries one after another behind one cursor
      let cursor = "0";
      do {
        const reply = await client.scan(cursor, { MATCH: match, COUNT: 1000 });
        cursor = String(reply.cursor);
        yield reply.keys;
      } while (cursor !== "0");
    },
  };
}

function sentinel(settings: RedisSettings): RedisClient {
  const tls = tlsSocket(settings.tls);
  const client = createSentinel({
    name: settings.masterName!,
    sentinelRootNodes: settings.addrs,
    nodeClientOptions: {
      socket: { connectTimeout: settings.timeoutMs, reconnectStrategy: nodeBackoff, ...tls },
      username: settings.username || undefined,
      password: settings.password || undefined,
      database: settings.database || undefined,
      disableOfflineQueue: true,
    },
    sentinelClientOptions: {
      socket: { connectTimeout: settings.timeoutMs, ...tls },
      password: settings.sentinelPassword || undefined,
    },
    commandOptions: { timeout: settings.timeoutMs },
  });
  return {
    ...common(client),
    ready: () => Promise.resolve(),
    sendKeyed: (_key, args) => client.sendCommand(false, args),
    scan: (match) => client.scanIterator({ MATCH: match, COUNT: 1000 }),
  };
}

function clientFor(settings: RedisSettings, role: ClientRole): RedisClient {
  switch (settings.mode) {
    case "single":
      return single(settings);
    case "cluster":
      return cluster(settings, role);
    case "sentinel":
      return sentinel(settings);
  }
}

/** Makes an unconnected client for the mode in `settings`. */
export function createRedisClient(settings: RedisSettings, role: ClientRole): RedisClient {
  const client = clientFor(settings, role);
  if (settings.tls === undefined) return client;
  guardTlsAlerts();
  return {
    ...client,
    async connect() {
      const since = Date.now();
      try {
        return await client.connect();
      } catch (err) {
        // the socket only says it closed when the server's alert (certificate required…) was thrown elsewhere
        throw tlsAlertSince(since) ?? err;
      }
    },
  };
}
