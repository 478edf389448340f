/**
 * `tyk.conf`: the schema (Tyk's snake_case keys, Go zero values, Tyk's code-level fallbacks applied) and the
 * loader that adds Go's case-insensitive keys, `TYK_GW_*` overrides, KV references and absolute paths.
 */
import { dirname, resolve } from "node:path";
import { z } from "zod";
import type { LogLevel } from "../log.ts";
import { logger } from "../log.ts";
import {
  bool,
  describeValue,
  entry,
  eventHandlers,
  int,
  intOr,
  isPlainObject,
  issuesText,
  list,
  num,
  obj,
  recordOf,
  str,
  strList,
  strMap,
  strOr,
} from "./_fields.ts";
import { applyEnvOverrides, parseGoBool } from "./_env_overrides.ts";
import { foldGoJsonKeys } from "./_go_json_keys.ts";
import { parseJsonText } from "./_json_text.ts";
import { storageNotice, storageProblem } from "./_storage_rules.ts";
import { TYK_CONF_ACCEPTED } from "./_tyk_conf_accepted.ts";

const PORT_MAX = 65535;
const LOG_LEVEL_NAMES: Record<string, LogLevel> = {
  "": "info",
  debug: "debug",
  info: "info",
  warn: "warn",
  warning: "warn",
  error: "error",
};

/** A TLS version as Tyk's `storage` block spells it; `""` is TLS 1.2 to 1.3. */
function tlsVersion() {
  return z.enum(["", "1.0", "1.1", "1.2", "1.3"], { error: 'must be "1.2" or "1.3"' }).default("");
}

const storageSchema = obj({
  /** Our addition: `embedded` (Deno KV in `path`) or `redis`; see `inferStorageType()`. */
  type: z.enum(["embedded", "redis"], { error: 'must be "embedded" or "redis"' }).default("embedded"),
  host: strOr("localhost"),
  port: intOr(6379, PORT_MAX),
  addrs: strList(),
  hosts: strMap(),
  username: str(),
  password: str(),
  database: int(0, 0),
  timeout: intOr(5),
  master_name: str(),
  sentinel_password: str(),
  enable_cluster: bool(),
  optimisation_max_idle: int(0, 0),
  optimisation_max_active: int(0, 0),
  use_ssl: bool(),
  ssl_insecure_skip_verify: bool(),
  ca_file: str(),
  cert_file: str(),
  key_file: str(),
  tls_min_version: tlsVersion(),
  tls_max_version: tlsVersion(),
  /** Our addition: the data folder of the embedded store. */
  path: strOr("data"),
});

const httpServerOptionsSchema = obj({
  read_timeout: intOr(120),
  write_timeout: intOr(120),
  enable_strict_routes: bool(),
  enable_path_prefix_matching: bool(),
  enable_path_suffix_matching: bool(),
  skip_url_cleaning: bool(),
  skip_target_path_escaping: bool(),
  max_request_body_size: int(0, 0),
  /** Ours: the largest body a step may hold in memory (JS hooks see bodies whole); 0 means 64 MiB. */
  max_buffered_body_size: intOr(64 * 1024 * 1024),
  /** Ours: what all bodies held in memory at once may add up to; 0 means 128 MiB. */
  max_buffered_total_size: intOr(128 * 1024 * 1024),
  /** Ours, not Tyk's: client connections open at once, across listeners; 0 means 10,000. */
  max_connections: intOr(10_000),
  xff_depth: int(0, 0),
  use_ssl: bool(),
  certificates: list(entry({ domain_name: str(), cert_file: str(), key_file: str() })),
  enable_http2: bool(),
  enable_websockets: bool(),
  flush_interval: int(0, 0),
});

/** The schema of `tyk.conf` after key folding and environment overrides. */
export const gatewayConfigSchema = z.object({
  listen_address: str(),
  /** We default to 8080 where Tyk binds a random port when the key is omitted. */
  listen_port: int(8080, 0, PORT_MAX),
  control_api_port: int(0, 0, PORT_MAX),
  hostname: str(),
  control_api_hostname: str(),
  secret: str(),
  node_secret: str(),
  app_path: str(),
  middleware_path: str(),
  template_path: str(),
  tyk_js_path: str(),
  use_db_app_configs: bool(),
  enable_jsvm: bool(),
  jsvm_timeout: z.int({ error: "must be an integer" }).default(0).transform((s) => s <= 0 ? 5 : s),
  /** Our addition: sandbox Workers per API. */
  jsvm_pool_size: int(2, 1, 64),
  /**
   * Our addition: request hooks that nothing stands between in an API's chain (its `pre` and `post` hooks
   * on a keyless API without limits, version checks, virtual endpoints or rewrites; a JS `auth_check` and
   * the `post_key_auth` hooks when no other auth runs; several hooks of one stage) go to its sandbox in one
   * call. Off: one call per hook; the results are the same.
   */
  jsvm_fuse_hooks: bool(true),
  /**
   * Our addition: the heap each sandbox Worker may use, in MB; a sandbox that needs more is ended. At least
   * 320: V8's largest single allocation (about 1 GB) must still end only the sandbox, not the process.
   */
  jsvm_memory_limit_mb: int(512, 320, 16384),
  /**
   * Our addition: seconds a sandbox may go without a JS call before it is stopped and its memory released;
   * 0 (or unset) means 300, a negative value keeps sandboxes for good.
   */
  jsvm_idle_timeout: int(0).transform((s) => s === 0 ? 300 : s),
  disable_virtual_path_blobs: bool(),
  policies: obj({ policy_source: str(), policy_path: str(), policy_record_name: str() }),
  storage: storageSchema,
  hash_keys: bool(),
  hash_key_function: str(),
  hash_key_function_fallback: strList(),
  basic_auth_hash_key_function: str(),
  enable_hashed_keys_listing: bool(),
  disable_key_actions_by_username: bool(),
  min_token_length: intOr(3),
  allow_master_keys: bool(),
  suppress_redis_signal_reload: bool(),
  reload_interval: z.int({ error: "must be an integer" }).default(0).transform((s) => Math.max(s, 1)),
  allow_insecure_configs: bool(),
  health_check_endpoint_name: strOr("hello"),
  readiness_check_endpoint_name: strOr("ready"),
  http_server_options: httpServerOptionsSchema,
  proxy_default_timeout: num().transform((s) => s <= 0 ? 30 : s),
  close_connections: bool(),
  proxy_close_connections: bool(),
  max_idle_connections: int(0, 0),
  max_idle_connections_per_host: int(0, 0),
  max_conn_time: int(0, 0),
  proxy_ssl_insecure_skip_verify: bool(),
  hide_generator_header: bool(),
  local_session_cache: obj({ disable_cached_session_state: bool() }),
  global_session_lifetime: int(),
  force_global_session_lifetime: bool(),
  session_lifetime_respects_key_expiration: bool(),
  log_level: str().transform((level) => LOG_LEVEL_NAMES[level.toLowerCase()] ?? level)
    .pipe(
      z.enum(["debug", "info", "warn", "error"], { error: 'must be "debug", "info", "warn" or "error"' }),
    ),
  secrets: strMap(),
  event_handlers: eventHandlers(),
  override_messages: recordOf(entry({ message: str(), code: int() })),
  ignore_canonical_mime_header_key: bool(),
  ignore_endpoint_case: bool(),
  graceful_shutdown_timeout_duration: intOr(30),
  enable_custom_domains: bool(),
  rate_limit_response_headers: str().transform((v): "quotas" | "rate_limits" =>
    v === "rate_limits" ? "rate_limits" : "quotas"
  ),
  enable_redis_rolling_limiter: bool(),
  enable_sentinel_rate_limiter: bool(),
  enable_fixed_window_rate_limiter: bool(),
  enable_non_transactional_rate_limiter: bool(),
  enable_rate_limit_smoothing: bool(),
  drl_threshold: num().transform((n) => n <= 0 ? 5 : n),
  drl_notification_frequency: intOr(2),
  drl_enable_sentinel_rate_limiter: bool(),
  enable_analytics: bool(),
  coprocess_options: obj({ enable_coprocess: bool() }),
});

/** The gateway configuration every other part reads (`config.listen_port`, `config.storage.type`). */
export type GatewayConfig = z.infer<typeof gatewayConfigSchema>;

/** `jsvm_timeout` in milliseconds: the hard limit of one JS call, and of one outbound host-API request. */
export function jsvmTimeoutMs(config: Pick<GatewayConfig, "jsvm_timeout">): number {
  return config.jsvm_timeout * 1000;
}

/** `jsvm_idle_timeout` in milliseconds; 0 when sandboxes are kept for good. */
export function jsvmIdleMs(config: Pick<GatewayConfig, "jsvm_idle_timeout">): number {
  return Math.max(0, config.jsvm_idle_timeout * 1000);
}

/** A `tyk.conf` that cannot be used; the message names the file, the field and what was expected. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

const log = logger("config");

/** A Tyk user's `storage` block with a host means Redis; without `storage` at all we use the embedded store. */
function inferStorageType(raw: Record<string, unknown>): void {
  const storage = raw.storage;
  if (!isPlainObject(storage) || (storage.type !== undefined && storage.type !== "")) return;
  const given = (v: unknown) =>
    (typeof v === "string" && v !== "") || (Array.isArray(v) && v.length > 0) ||
    (isPlainObject(v) && Object.keys(v).length > 0);
  storage.type = given(storage.host) || given(storage.addrs) || given(storage.hosts) ? "redis" : "embedded";
}

/**
 * Resolves a KV reference as Tyk's `kvStore()` does: `secrets://key`, and `env://name` read from
 * `TYK_SECRET_NAME`; the bare `name` is read too, because many configurations mean the variable itself.
 */
function resolveReference(
  field: string,
  value: string,
  config: GatewayConfig,
  env: Record<string, string>,
): string {
  if (value.startsWith("secrets://")) {
    const key = value.slice("secrets://".length);
    if (Object.hasOwn(config.secrets, key)) return config.secrets[key];
    throw new Error(`${field} refers to ${value}, but secrets has no key "${key}"`);
  }
  if (value.startsWith("env://")) {
    const name = value.slice("env://".length);
    const tykName = `TYK_SECRET_${name.toUpperCase()}`;
    const found = env[tykName] || env[name];
    if (found) return found;
    throw new Error(`${field} refers to ${value}, but neither ${tykName} nor ${name} is set`);
  }
  return value;
}

/** Makes every path absolute against the config file's folder (Tyk uses the working directory). */
function resolvePaths(config: GatewayConfig, folder: string): void {
  const absolute = (path: string) => path === "" ? "" : resolve(folder, path);
  config.app_path = config.app_path === "" ? folder : absolute(config.app_path);
  config.middleware_path = absolute(config.middleware_path || "middleware");
  config.template_path = absolute(config.template_path || "templates");
  config.tyk_js_path = absolute(config.tyk_js_path);
  config.policies.policy_path = absolute(config.policies.policy_path);
  config.policies.policy_record_name = absolute(config.policies.policy_record_name);
  const storage = config.storage;
  storage.path = absolute(storage.path);
  storage.ca_file = absolute(storage.ca_file);
  storage.cert_file = absolute(storage.cert_file);
  storage.key_file = absolute(storage.key_file);
  for (const certificate of config.http_server_options.certificates) {
    certificate.cert_file = absolute(certificate.cert_file);
    certificate.key_file = absolute(certificate.key_file);
  }
}

/**
 * Validates decoded `tyk.conf` JSON: case-insensitive keys (unknown ones are warned about), `TYK_GW_*` and
 * `TYK_LOGLEVEL` overrides, defaults, `env://`/`secrets://` references, absolute paths.
 * @param json the decoded file (`{}` when the file is omitted)
 * @param file the file's path, for messages and relative paths
 * @param env the environment to read overrides from
 * @throws {ConfigError} when a value has the wrong type or a reference cannot be resolved
 */
export function parseGatewayConfig(
  json: unknown,
  file: string,
  env: Record<string, string> = {},
): GatewayConfig {
  const path = resolve(file);
  const fail = (detail: string) => new ConfigError(`Cannot load ${path}: ${detail}`);
  if (!isPlainObject(json)) throw fail(`the file must hold a JSON object, got ${describeValue(json)}`);
  const raw = foldGoJsonKeys(json, gatewayConfigSchema, {
    accepted: TYK_CONF_ACCEPTED,
    onUnknown: (key) => log.warn(`Ignoring unknown key ${key}`, { file: path }),
  }) as Record<string, unknown>;
  if (env.TYK_LOGLEVEL !== undefined) raw.log_level = env.TYK_LOGLEVEL;
  const sources = applyEnvOverrides(raw, gatewayConfigSchema, env);
  if (env.TYK_LOGLEVEL !== undefined && !sources.has("log_level")) sources.set("log_level", "TYK_LOGLEVEL");
  inferStorageType(raw);
  const parsed = gatewayConfigSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) {
    throw fail(issuesText(parsed.error.issues, (field) => {
      const variable = sources.get(field);
      return variable ? `${field} (from ${variable})` : field;
    }));
  }
  const config = parsed.data;
  try {
    config.secret = resolveReference("secret", config.secret, config, env);
    config.node_secret = resolveReference("node_secret", config.node_secret, config, env);
    config.storage.password = resolveReference("storage.password", config.storage.password, config, env);
    config.storage.sentinel_password = resolveReference(
      "storage.sentinel_password",
      config.storage.sentinel_password,
      config,
      env,
    );
  } catch (err) {
    throw fail((err as Error).message);
  }
  const problem = storageProblem(config.storage);
  if (problem !== null) throw fail(problem);
  const notice = storageNotice(config.storage);
  if (notice !== null) log.warn(notice, { file: path });
  resolvePaths(config, dirname(path));
  return config;
}

/**
 * Reads and validates `tyk.conf`; with `TYK_GW_OMITCONFIGFILE=true` the file is not read and only the
 * environment configures the gateway.
 * @param path the config file (`--conf`)
 * @param env the environment to read overrides from
 * @throws {ConfigError} e.g. `Cannot load /x/tyk.conf: listen_port must be an integer from 0 to 65535, got "abc"`
 */
export async function loadGatewayConfig(
  path: string,
  env: Record<string, string> = Deno.env.toObject(),
): Promise<GatewayConfig> {
  const file = resolve(path);
  if (parseGoBool(env.TYK_GW_OMITCONFIGFILE)) return parseGatewayConfig({}, file, env);
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (err) {
    const reason = err instanceof Deno.errors.NotFound
      ? "file not found"
      : err instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : (err as Error).message;
    throw new ConfigError(`Cannot load ${file}: ${reason}`, { cause: err });
  }
  let json: unknown;
  try {
    json = parseJsonText(text);
  } catch (err) {
    throw new ConfigError(`Cannot load ${file}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
  return parseGatewayConfig(json, file, env);
}
