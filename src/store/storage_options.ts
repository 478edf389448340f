/** The `storage` settings the stores use (Tyk's names; combinations are checked when tyk.conf is loaded). */
export interface StorageOptions {
  /** `"embedded"`: a Deno KV file in `path`; `"redis"`: Tyk's Redis layout. */
  type: "embedded" | "redis";
  /** Folder of the embedded store (created if missing). */
  path?: string;
  /** Redis host, used when `addrs` and `hosts` are empty. @default "localhost" */
  host?: string;
  /** Redis port, used when `addrs` and `hosts` are empty. @default 6379 */
  port?: number;
  /** `host:port` list: the server, the cluster's seed nodes, or the sentinels. @default [] */
  addrs?: string[];
  /** Deprecated Tyk form of `addrs` (host → port), used when `addrs` is empty. @default {} */
  hosts?: Record<string, string | number>;
  /** Redis ACL user name. @default "" */
  username?: string;
  /** Redis password (of the ACL user, or `requirepass`). @default "" */
  password?: string;
  /** Redis database number; must be 0 in cluster mode. @default 0 */
  database?: number;
  /** Seconds a Redis call may take, retries during a failover included; also the connect timeout. @default 5 */
  timeout?: number;
  /** Connect to a Redis Cluster, with `addrs` (or `host`/`port`) as seed nodes. @default false */
  enable_cluster?: boolean;
  /** Connect through Sentinel to the primary of this name, with the sentinels in `addrs`. @default "" */
  master_name?: string;
  /** `requirepass` of the sentinels. @default "" */
  sentinel_password?: string;
  /**
   * Tyk's pool sizes. node-redis sends every command over one connection per node (plus one that listens for
   * cluster notifications), which stays within any limit; 0 is Tyk's default (docs/differences.md,
   * "Redis pool sizes").
   * @default 0
   */
  optimisation_max_idle?: number;
  /** See `optimisation_max_idle`. @default 0 */
  optimisation_max_active?: number;
  /** Connect with TLS. @default false */
  use_ssl?: boolean;
  /** Accept any server certificate (testing only). @default false */
  ssl_insecure_skip_verify?: boolean;
  /** PEM file of the CA that signed the server's certificate; the system's CAs when empty. @default "" */
  ca_file?: string;
  /** PEM client certificate and key, for servers that check clients (mutual TLS). @default "" */
  cert_file?: string;
  key_file?: string;
  /** `"1.2"` or `"1.3"`. @default "1.2" */
  tls_min_version?: string;
  /** `"1.2"` or `"1.3"`. @default "1.3" */
  tls_max_version?: string;
}
