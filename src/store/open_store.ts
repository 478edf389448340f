/** Opens the store tyk.conf's `storage` section asks for. */
import { logger } from "../log.ts";
import { openEmbeddedStore } from "./embedded.ts";
import { openRedisStore } from "./redis.ts";
import type { Store } from "./store.ts";

/** The `storage` settings the stores use. */
export interface StorageOptions {
  /** `"embedded"`: a Deno KV file in `path`; `"redis"`: Tyk's Redis layout. */
  type: "embedded" | "redis";
  /** Folder of the embedded store (created if missing). */
  path?: string;
  /** Redis host. @default "localhost" */
  host?: string;
  /** Redis port. @default 6379 */
  port?: number;
  /** Redis `host:port` list; the first entry wins over `host`/`port`. @default [] */
  addrs?: string[];
  /** Deprecated Tyk form of `addrs` (host → port), used when `addrs` is empty. @default {} */
  hosts?: Record<string, string | number>;
  /** Redis ACL user name. @default "" */
  username?: string;
  /** Redis password. @default "" */
  password?: string;
  /** Redis database number. @default 0 */
  database?: number;
  /** Redis connect and command timeout in seconds. @default 5 */
  timeout?: number;
  /** Redis Cluster, Sentinel and TLS are not supported; set, they only produce a warning. */
  enable_cluster?: boolean;
  master_name?: string;
  use_ssl?: boolean;
}

const UNSUPPORTED = ["enable_cluster", "master_name", "use_ssl"] as const;

/**
 * Opens the configured store. A Redis that is down at start does not fail this call (see `openRedisStore`).
 * @throws RangeError when the embedded store has no `path`; errors opening the KV file.
 */
export async function openStore(storage: StorageOptions): Promise<Store> {
  if (storage.type === "redis") {
    for (const field of UNSUPPORTED) {
      if (storage[field]) logger("redis").warn(`storage.${field} is not supported; connecting without it`);
    }
    const addrs = storage.addrs?.length
      ? storage.addrs
      : Object.entries(storage.hosts ?? {}).map(([host, port]) => `${host}:${port}`);
    return await openRedisStore({
      host: storage.host,
      port: storage.port,
      addrs,
      username: storage.username,
      password: storage.password,
      database: storage.database,
      timeoutSeconds: storage.timeout,
    });
  }
  if (!storage.path) throw new RangeError("Cannot open the embedded store: storage.path is empty");
  return await openEmbeddedStore(storage.path);
}
