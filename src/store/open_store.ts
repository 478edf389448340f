/** Opens the store tyk.conf's `storage` section asks for. */
import { openEmbeddedStore } from "./embedded.ts";
import { redisSettings } from "./_redis_settings.ts";
import { openRedisStore } from "./redis.ts";
import type { StorageOptions } from "./storage_options.ts";
import type { Store } from "./store.ts";

/**
 * Opens the configured store. A Redis that is down at start does not fail this call (see `openRedisStore`).
 * @throws RangeError naming the field: an embedded store without `path`, a malformed Redis address, a TLS file
 * that cannot be read or used; errors opening the KV file.
 */
export async function openStore(storage: StorageOptions): Promise<Store> {
  if (storage.type === "redis") return await openRedisStore(await redisSettings(storage));
  if (!storage.path) throw new RangeError("Cannot open the embedded store: storage.path is empty");
  return await openEmbeddedStore(storage.path);
}
