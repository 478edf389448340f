/** Tyk's key identifiers (`internal/crypto/token.go`, `gateway/auth_manager.go`): new ids, custom ids, key orgs. */
import { b64JsonField, b64StdEncode } from "./_b64_json.ts";
import { isHashAlgorithm } from "./hash.ts";

/** Tyk writes this algorithm into tokens whose `hash_key_function` it does not know. */
const DEFAULT_HASH_ALGORITHM = "murmur64";
/** Length of a Mongo ObjectId, which legacy keys start with when their org is one. */
const MONGO_ID_LENGTH = 24;
const HEX = /^[0-9a-fA-F]*$/;

/** A new random key id: a UUID v4 as 32 hex chars. */
export function newKeyId(): string {
  return crypto.randomUUID().replaceAll("-", "");
}

/**
 * Builds the stored key name for an org and a key id, as Tyk does for new and custom keys.
 * A leading `orgId` is removed from `customId` first; an empty id gets a random one. With a
 * `hashKeyFunction` the result is base64 of `{"org":…,"id":…,"h":…}` (Tyk formats it without escaping),
 * else the legacy `orgId + id`.
 * @param customId the caller's id, or `""` for a random one
 * @param hashKeyFunction `hash_key_function` from tyk.conf (`""` for legacy keys)
 */
export function generateToken(orgId: string, customId: string, hashKeyFunction: string): string {
  let id = orgId !== "" && customId.startsWith(orgId) ? customId.slice(orgId.length) : customId;
  if (id === "") id = newKeyId();
  if (hashKeyFunction === "") return orgId + id;
  const algorithm = isHashAlgorithm(hashKeyFunction) ? hashKeyFunction : DEFAULT_HASH_ALGORITHM;
  return b64StdEncode(`{"org":"${orgId}","id":"${id}","h":"${algorithm}"}`);
}

/**
 * Tyk's `TokenOrg`: the `org` of a base64-JSON token, else the first 24 chars when the key is longer and
 * they are hex (a Mongo ObjectId org), else `""`.
 */
export function tokenOrg(key: string): string {
  const org = b64JsonField(key, "org");
  if (org !== undefined) return org;
  if (key.length > MONGO_ID_LENGTH) {
    const prefix = key.slice(0, MONGO_ID_LENGTH);
    if (HEX.test(prefix)) return prefix;
  }
  return "";
}
