/**
 * The `storage` settings that cannot work together. Each one stops start-up with the fields named, because
 * a Redis option silently dropped (a TLS file without `use_ssl`, a database in cluster mode) would connect
 * differently from what the operator wrote. Tyk drops them (docs/differences.md, "`storage` settings that
 * cannot all apply", "TLS 1.0 and 1.1 to Redis").
 */

/** The `storage` fields these rules read. */
export interface StorageFields {
  type: "embedded" | "redis";
  addrs: string[];
  hosts: Record<string, string>;
  database: number;
  master_name: string;
  sentinel_password: string;
  enable_cluster: boolean;
  use_ssl: boolean;
  ssl_insecure_skip_verify: boolean;
  ca_file: string;
  cert_file: string;
  key_file: string;
  tls_min_version: string;
  tls_max_version: string;
}

/** TLS versions as Tyk spells them, in order. */
const TLS_VERSIONS = ["1.0", "1.1", "1.2", "1.3"];
/** Deno's TLS stack speaks TLS 1.2 and 1.3 only. */
const OLDEST_AVAILABLE = "1.2";

/**
 * Checks the combinations of `storage` fields; the embedded store ignores the Redis fields.
 * @returns what is wrong (fields named, with the fix), or `null`
 */
export function storageProblem(storage: StorageFields): string | null {
  if (storage.type !== "redis") return null;
  if (storage.enable_cluster && storage.master_name !== "") {
    return "storage.enable_cluster and storage.master_name cannot both be set: " +
      "use enable_cluster for a Redis Cluster, or master_name (with the sentinels in addrs) for Sentinel";
  }
  if (storage.enable_cluster && storage.database !== 0) {
    return `storage.database must be 0 with storage.enable_cluster (Redis Cluster has only database 0), got ${storage.database}`;
  }
  const servers = storage.addrs.length || Object.keys(storage.hosts).length;
  if (servers > 1 && !storage.enable_cluster && storage.master_name === "") {
    return `storage.addrs lists ${servers} servers but only one can be used without a cluster or Sentinel: ` +
      "set enable_cluster for a Redis Cluster, or master_name for Sentinel, or list one server";
  }
  if (storage.sentinel_password !== "" && storage.master_name === "") {
    return "storage.sentinel_password is set but storage.master_name is empty: " +
      "set master_name to connect through Sentinel, or remove sentinel_password";
  }
  if (!storage.use_ssl) {
    const tlsField = ([
      "ssl_insecure_skip_verify",
      "ca_file",
      "cert_file",
      "key_file",
      "tls_min_version",
      "tls_max_version",
    ] as const)
      .find((field) => storage[field] !== false && storage[field] !== "");
    if (tlsField !== undefined) {
      return `storage.${tlsField} is set but storage.use_ssl is false: set use_ssl to connect with TLS, or remove ${tlsField}`;
    }
    return null;
  }
  if ((storage.cert_file === "") !== (storage.key_file === "")) {
    return "storage.cert_file and storage.key_file must be given together (a client certificate needs its key)";
  }
  const max = storage.tls_max_version;
  if (max !== "" && TLS_VERSIONS.indexOf(max) < TLS_VERSIONS.indexOf(OLDEST_AVAILABLE)) {
    return `storage.tls_max_version "${max}" cannot be honoured: only TLS 1.2 and 1.3 are available`;
  }
  const min = storage.tls_min_version;
  if (min !== "" && max !== "" && TLS_VERSIONS.indexOf(min) > TLS_VERSIONS.indexOf(max)) {
    return `storage.tls_min_version "${min}" is newer than storage.tls_max_version "${max}"`;
  }
  return null;
}

/** A `tls_min_version` below what the runtime speaks still holds as a floor; the log says what is used. */
export function storageNotice(storage: StorageFields): string | null {
  const min = storage.tls_min_version;
  if (storage.type !== "redis" || !storage.use_ssl || min === "") return null;
  return TLS_VERSIONS.indexOf(min) < TLS_VERSIONS.indexOf(OLDEST_AVAILABLE)
    ? `storage.tls_min_version "${min}": TLS 1.0 and 1.1 are not available, connecting with TLS 1.2 or newer`
    : null;
}
