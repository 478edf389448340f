/**
 * The quota a key has left right now, read from its counters: requests do not write the session record, so
 * `GET /tyk/keys/{key}` and `<listen_path>/tyk/rate-limits/` compute `quota_remaining` the way Tyk's key API
 * does, as `quota_max − used`, never below 0, for the key and for each API limit with its own scope.
 */
import type { Store } from "../store/store.ts";
import { isEmptyLimit, type Session } from "./session.ts";
import { QUOTA_PREFIX } from "./key_store.ts";

interface QuotaFields {
  quota_max: number;
  quota_remaining: number;
  quota_renews: number;
}

/**
 * Sets `quota_remaining` (and, while a window runs, `quota_renews`) on the session and on its per-API limits (kept under their `allowance_scope`) from the
 * counters, in one store read; a limit without a counter yet shows its whole quota.
 * @param id the key's storage id (the stored key name, hashed when `hash_keys` is on)
 */
export async function showLiveQuota(
  store: Pick<Store, "getMany" | "ttl">,
  id: string,
  session: Session,
): Promise<void> {
  const targets: { key: string; fields: QuotaFields }[] = [{ key: QUOTA_PREFIX + id, fields: session }];
  for (const access of Object.values(session.access_rights ?? {})) {
    if (!access.limit || isEmptyLimit(access.limit)) continue;
    const scope = access.allowance_scope ? `${access.allowance_scope}-` : "";
    targets.push({ key: `${QUOTA_PREFIX}${scope}${id}`, fields: access.limit });
  }
  const keys = targets.map((target) => target.key);
  const [used, ttls] = await Promise.all([
    store.getMany(keys),
    Promise.all(keys.map((key) => store.ttl(key))),
  ]);
  const now = Math.floor(Date.now() / 1000);
  targets.forEach(({ fields }, i) => {
    if (fields.quota_max <= 0) return;
    fields.quota_remaining = Math.max(fields.quota_max - Number(used[i] ?? 0), 0);
    if (ttls[i] > 0) fields.quota_renews = now + ttls[i];
  });
}
