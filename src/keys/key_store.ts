/**
 * Session records on top of a {@link Store}, in Tyk's layout: `apikey-` + HashKey(key name), quota counters
 * `quota-[<scope>-]<id>` and the sentinel `rate-limit-<id>.BLOCKED`, with a short local cache in front of
 * lookups (Tyk's SessionCache). Every call rejects when the store fails; callers turn that into an HTTP error.
 */
import { logger } from "../log.ts";
import type { Store } from "../store/store.ts";
import { hashKey } from "./hash.ts";
import { cloneSession, parseSession, serializeSession, type Session } from "./session.ts";
import { generateToken, tokenOrg } from "./token.ts";

const log = logger("auth-mgr");

/** Prefix of session records in the store. */
export const APIKEY_PREFIX = "apikey-";
/** Prefix of quota counters. */
export const QUOTA_PREFIX = "quota-";
/** Prefix of rate-limiter keys; the sentinel limiter adds {@link BLOCKED_SUFFIX}. */
export const RATE_LIMIT_PREFIX = "rate-limit-";
/** Suffix of the sentinel limiter's "blocked" flag. */
export const BLOCKED_SUFFIX = ".BLOCKED";

/** Tyk never accepts tokens shorter than this, whatever `min_token_length` says. */
const MIN_TOKEN_LENGTH = 3;
/** Cache fills between sweeps of expired entries. */
const SWEEP_EVERY = 1024;
/** Bound of the token → stored id memo (only found keys enter it); past it the memo starts over. */
const MAX_RESOLVED = 100_000;

/** How keys are named and cached; the tyk.conf fields they come from are named. */
export interface KeyStoreOptions {
  /** `hash_keys`: store `HashStr(key)` instead of the key. @default true */
  hashKeys?: boolean;
  /** `hash_key_function`: `""` gives legacy `org+id` key names. @default "" */
  hashKeyFunction?: string;
  /** `hash_key_function_fallback`: more algorithms to try for custom-id keys. @default [] */
  hashKeyFunctionFallback?: string[];
  /** `min_token_length`; Tyk uses at least 3. @default 0 */
  minTokenLength?: number;
  /** Lifetime of a cached session in ms; `0` disables the cache. @default 10_000 */
  cacheTtlMs?: number;
  /** The clock, for tests. @default Date.now */
  now?: () => number;
}

/** Options for calls that take a key name. */
export interface KeyNameOptions {
  /** The name given is already the stored id (`?hashed=true` in the control API). @default false */
  hashed?: boolean;
  /** Also try Tyk's custom-id forms of the name for this org, as a request to that org's API would. */
  orgId?: string;
}

/** A key the Gateway API found: where its session is stored, and the session. */
export interface FoundKey {
  /** The stored key name that matched (or the id, when found `hashed`). */
  keyName: string;
  /** True when `keyName` is the stored id itself. */
  hashed: boolean;
  session: Session;
}

interface PendingWrite {
  text: string;
  ttlSeconds: number;
  waiting: { resolve(written: boolean): void; reject(reason: unknown): void }[];
}

interface Cached {
  session: Session;
  expiresAt: number;
}

/** Session records of keys, with Tyk's names and a local cache. */
export class KeyStore {
  #store: Store;
  #hashKeys: boolean;
  #hashKeyFunction: string;
  #fallbacks: string[];
  #minLength: number;
  #cacheTtlMs: number;
  #now: () => number;
  #cache = new Map<string, Cached>();
  #fills = 0;
  /** The next write-back per stored id, and the ids with one in flight. */
  #writes = new Map<string, PendingWrite>();
  #writing = new Set<string>();
  /** Which candidate a presented token resolved to, per API org; the session itself lives in `#cache`. */
  #resolved = new Map<string, { id: string; keyName: string }>();
  /** Bumped by every set, delete and eviction, so a read that overlapped one does not fill the cache. */
  #epoch = 0;

  constructor(store: Store, options: KeyStoreOptions = {}) {
    const { hashKeys = true, hashKeyFunction = "", hashKeyFunctionFallback = [], minTokenLength = 0 } =
      options;
    const { cacheTtlMs = 10_000, now = Date.now } = options;
    if (!(cacheTtlMs >= 0)) throw new RangeError(`Cannot use cacheTtlMs ${cacheTtlMs}: must be 0 or more`);
    this.#store = store;
    this.#hashKeys = hashKeys;
    this.#hashKeyFunction = hashKeyFunction;
    this.#fallbacks = hashKeyFunctionFallback;
    this.#minLength = Math.max(minTokenLength, MIN_TOKEN_LENGTH);
    this.#cacheTtlMs = cacheTtlMs;
    this.#now = now;
  }

  /** The id a key name is stored under (after `apikey-`): HashKey(name, hash_keys). */
  storageId(keyName: string): string {
    return hashKey(keyName, this.#hashKeys);
  }

  /** The key names Tyk tries for a presented token on an API of `orgId`, first match wins. */
  #candidates(token: string, orgId: string): string[] {
    if (tokenOrg(token) === orgId) return [token];
    const names = [generateToken(orgId, token, this.#hashKeyFunction), token];
    for (const algorithm of this.#fallbacks) names.push(generateToken(orgId, token, algorithm));
    return [...new Set(names)];
  }

  #cached(id: string): Session | null {
    const hit = this.#cache.get(id);
    if (hit === undefined) return null;
    if (hit.expiresAt > this.#now()) return hit.session;
    this.#cache.delete(id);
    return null;
  }

  #fill(id: string, session: Session): void {
    if (this.#cacheTtlMs === 0) return;
    const now = this.#now();
    if (++this.#fills % SWEEP_EVERY === 0) {
      for (const [key, entry] of this.#cache) if (entry.expiresAt <= now) this.#cache.delete(key);
    }
    this.#cache.set(id, { session, expiresAt: now + this.#cacheTtlMs });
  }

  /** Reads the first stored session among `ids` (one round trip); `null` when none, or when it is corrupt. */
  async #readFirst(ids: string[]): Promise<{ index: number; session: Session } | null> {
    const epoch = this.#epoch;
    const values = await this.#store.getMany(ids.map((id) => APIKEY_PREFIX + id));
    const index = values.findIndex((value) => value !== null);
    if (index < 0) return null;
    try {
      const session = parseSession(values[index]!);
      // A set, delete or eviction during the read may have made this value stale: serve it, do not cache it.
      if (epoch === this.#epoch) this.#fill(ids[index], session);
      return { index, session };
    } catch (err) {
      // Tyk treats an unreadable record as a missing key.
      log.error(`Cannot read session "${APIKEY_PREFIX}${ids[index]}": ${(err as Error).message}`);
      return null;
    }
  }

  /**
   * Finds the session of a presented token for an API of `apiOrgId` (the request path, Tyk's `AuthKey`):
   * too-short tokens are not found; a token whose org differs is also tried as a custom id of that org.
   * Served from the local cache when fresh. The session returned is the caller's own copy.
   * @returns the stored key name that matched and its session, or `null`.
   */
  async lookup(token: string, apiOrgId: string): Promise<{ keyName: string; session: Session } | null> {
    if (token.length < this.#minLength) return null;
    const memoKey = `${apiOrgId}\n${token}`;
    if (this.#cacheTtlMs > 0) {
      // A cache hit skips decoding and hashing the token again (several µs for a b64 token).
      const memo = this.#resolved.get(memoKey);
      const session = memo === undefined ? null : this.#cached(memo.id);
      if (session !== null) return { keyName: memo!.keyName, session: cloneSession(session) };
    }
    const names = this.#candidates(token, apiOrgId);
    const ids = names.map((name) => this.storageId(name));
    let hit: { index: number; session: Session } | null = null;
    if (this.#cacheTtlMs > 0) {
      for (let i = 0; i < ids.length && hit === null; i++) {
        const session = this.#cached(ids[i]);
        if (session !== null) hit = { index: i, session };
      }
    }
    hit ??= await this.#readFirst(ids);
    if (hit === null) return null;
    if (this.#cacheTtlMs > 0) {
      if (this.#resolved.size >= MAX_RESOLVED) this.#resolved.clear();
      this.#resolved.set(memoKey, { id: ids[hit.index], keyName: names[hit.index] });
    }
    return { keyName: names[hit.index], session: cloneSession(hit.session) };
  }

  /**
   * Finds a key the way Tyk's Gateway API does: by its stored id (`hashed`), or by its name, and with
   * `orgId` also by Tyk's custom-id forms of the name for that org. Reads the store, never the cache.
   * @returns the name (or id, when `hashed`) the session is stored under, and the session; `null` when absent
   */
  async find(keyName: string, options: KeyNameOptions = {}): Promise<FoundKey | null> {
    const names = !options.hashed && options.orgId !== undefined
      ? this.#candidates(keyName, options.orgId)
      : [keyName];
    const ids = options.hashed ? names : names.map((name) => this.storageId(name));
    const found = await this.#readFirst(ids);
    if (found === null) return null;
    return {
      keyName: names[found.index],
      hashed: options.hashed ?? false,
      session: cloneSession(found.session),
    };
  }

  /** Reads a key's session from the store (never from the cache), refreshing the cache; `null` when absent. */
  async get(keyName: string, options: KeyNameOptions = {}): Promise<Session | null> {
    return (await this.find(keyName, options))?.session ?? null;
  }

  /**
   * Writes a key's session (control API create/update); durable when resolved.
   * @param ttlSeconds the record's lifetime; 0 or less means none
   * @param options.hashed `keyName` is the stored id already
   */
  async set(
    keyName: string,
    session: Session,
    ttlSeconds: number,
    options: { hashed?: boolean } = {},
  ): Promise<void> {
    const id = options.hashed ? keyName : this.storageId(keyName);
    try {
      await this.#store.set(APIKEY_PREFIX + id, serializeSession(session), ttlSeconds);
    } finally {
      this.#epoch++;
      this.#cache.delete(id);
    }
  }

  /**
   * Writes back a session read on the request path, only if its record still exists (`SET … XX`), so a key
   * deleted meanwhile is not resurrected. Write-backs of one key that arrive while one is in flight are
   * merged: the newest session is written next and every caller waiting for it gets that write's outcome
   * (last write wins, as with Tyk's own session writes). The cache keeps what was written.
   * @returns whether the record existed and was written
   */
  writeBack(keyName: string, session: Session, ttlSeconds: number): Promise<boolean> {
    const id = this.storageId(keyName);
    let text: string;
    try {
      // Serialised now: the caller may change its session once this returns.
      text = serializeSession(session);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      const next = this.#writes.get(id);
      if (next === undefined) this.#writes.set(id, { text, ttlSeconds, waiting: [{ resolve, reject }] });
      else {
        next.text = text;
        next.ttlSeconds = ttlSeconds;
        next.waiting.push({ resolve, reject });
      }
      if (!this.#writing.has(id)) this.#drainWrites(id);
    });
  }

  async #drainWrites(id: string): Promise<void> {
    this.#writing.add(id);
    try {
      for (let write = this.#writes.get(id); write !== undefined; write = this.#writes.get(id)) {
        this.#writes.delete(id);
        let written: boolean;
        try {
          written = await this.#store.setIfExists(APIKEY_PREFIX + id, write.text, write.ttlSeconds);
        } catch (err) {
          this.#cache.delete(id);
          for (const waiter of write.waiting) waiter.reject(err);
          continue;
        }
        // serializeSession() wrote every field, so plain JSON.parse gives a complete session.
        if (written && this.#cacheTtlMs > 0) this.#fill(id, JSON.parse(write.text));
        else this.#cache.delete(id);
        for (const waiter of write.waiting) waiter.resolve(written);
      }
    } finally {
      this.#writing.delete(id);
    }
  }

  /**
   * Deletes a key's session and resets its quota and sentinel counters.
   * @param options.hashed `keyName` is the stored id already
   * @returns whether a session record existed
   */
  async delete(keyName: string, options: { hashed?: boolean } = {}): Promise<boolean> {
    const ids = [options.hashed ? keyName : this.storageId(keyName)];
    const stored = await this.#store.getMany(ids.map((id) => APIKEY_PREFIX + id));
    let existed: number;
    try {
      existed = await this.#store.delete(...ids.map((id) => APIKEY_PREFIX + id));
    } finally {
      this.#epoch++;
      for (const id of ids) this.#cache.delete(id);
    }
    const counters = ids.flatMap((id, i) => this.#counterKeys(id, stored[i]));
    await this.#store.delete(...counters);
    return existed > 0;
  }

  /**
   * Quota and sentinel keys of a stored id. Scoped quotas may be named after an `allowance_scope`, an API
   * (a key's own per-API limit) or a policy (a per-API policy without limits of its own), so all are listed.
   */
  #counterKeys(id: string, stored: Session | string | null): string[] {
    const keys = [QUOTA_PREFIX + id, RATE_LIMIT_PREFIX + id + BLOCKED_SUFFIX];
    let session: Session | null = null;
    try {
      session = typeof stored === "string" ? parseSession(stored) : stored;
    } catch {
      // an unreadable record has no scopes to offer; the unscoped counters still go
    }
    const scopes = [...session?.apply_policies ?? [], session?.apply_policy_id ?? ""];
    for (const [apiId, access] of Object.entries(session?.access_rights ?? {})) {
      scopes.push(apiId, access.allowance_scope ?? "");
    }
    for (const scope of scopes) if (scope) keys.push(`${QUOTA_PREFIX}${scope}-${id}`);
    return [...new Set(keys)];
  }

  /**
   * Resets a key's quota counters (`quota-<id>`, `quota-<scope>-<id>`) and its sentinel `.BLOCKED` flag.
   * @param options.session the key's session, for its allowance scopes; read from the store when omitted
   */
  async resetQuota(keyName: string, options: { hashed?: boolean; session?: Session } = {}): Promise<void> {
    const id = options.hashed ? keyName : this.storageId(keyName);
    const session = options.session ?? await this.#store.get(APIKEY_PREFIX + id);
    await this.#store.delete(...this.#counterKeys(id, session));
  }

  /**
   * Lists stored key names without `apikey-` (raw keys, or hashes with `hash_keys`), as `GET /tyk/keys`.
   * @param filter a prefix; hashed like a key when `hash_keys` is on, as Tyk does
   * @param options.apiId only keys whose access_rights name this API
   */
  async list(filter = "", options: { apiId?: string } = {}): Promise<string[]> {
    const prefix = APIKEY_PREFIX + (filter === "" ? "" : this.storageId(filter));
    const names = await this.#store.keys(prefix);
    const ids = names.map((name) => name.slice(APIKEY_PREFIX.length));
    const apiId = options.apiId;
    if (!apiId) return ids;
    const records = await this.#store.getMany(names);
    return ids.filter((_, i) => {
      try {
        return records[i] !== null && Object.hasOwn(parseSession(records[i]!).access_rights ?? {}, apiId);
      } catch {
        return false; // an unreadable record names no API
      }
    });
  }

  /**
   * Drops cached sessions, for a `KeySpaceUpdateNotification` payload (`HashKey(key)` entries; anything
   * after a `:` in an entry is ignored).
   */
  evict(ids: string[]): void {
    this.#epoch++;
    for (const entry of ids) {
      const colon = entry.indexOf(":");
      this.#cache.delete(colon < 0 ? entry : entry.slice(0, colon));
    }
  }
}
