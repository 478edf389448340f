import assert from "node:assert/strict";
import { join } from "node:path";
import {
  ConfigError,
  type GatewayConfig,
  jsvmIdleMs,
  loadGatewayConfig,
  parseGatewayConfig,
} from "./gateway_config.ts";
import { withDir } from "../../tests/support/temp_dir.ts";
import { capturingLog } from "../../tests/support/console_log.ts";

/** The sample from Tyk's `tyk.conf.example`. */
const TYK_SAMPLE = {
  listen_address: "",
  listen_port: 8080,
  secret: "352d20ee67be67f6340b4c0605b044b7",
  template_path: "/opt/tyk-gateway/templates",
  use_db_app_configs: false,
  app_path: "/opt/tyk-gateway/apps",
  middleware_path: "/opt/tyk-gateway/middleware",
  storage: {
    type: "redis",
    host: "redis",
    port: 6379,
    username: "",
    password: "",
    database: 0,
    optimisation_max_idle: 2000,
    optimisation_max_active: 4000,
  },
  enable_analytics: false,
  analytics_config: { type: "", ignored_ips: [] },
  dns_cache: { enabled: false, ttl: 3600, check_interval: 60 },
  allow_master_keys: false,
  policies: { policy_source: "file", allow_explicit_policy_id: true },
  http_server_options: {
    xff_depth: 1,
    enable_strict_routes: true,
    enable_path_prefix_matching: true,
    enable_path_suffix_matching: true,
  },
  hash_keys: true,
  hash_key_function: "murmur64",
  suppress_redis_signal_reload: false,
  force_global_session_lifetime: false,
  max_idle_connections_per_host: 500,
};

function withConfFile(text: string, run: (file: string) => Promise<void>): Promise<void> {
  return withDir(async (dir) => {
    const file = join(dir, "tyk.conf");
    await Deno.writeTextFile(file, text);
    await run(file);
  });
}

function configError(json: unknown, env: Record<string, string> = {}): string {
  try {
    parseGatewayConfig(json, "/x/tyk.conf", env);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.name, "ConfigError");
    return err.message;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("loadGatewayConfig() reads Tyk's sample tyk.conf", async () => {
  await withConfFile(JSON.stringify(TYK_SAMPLE), async (file) => {
    const config: GatewayConfig = await loadGatewayConfig(file, {});
    assert.equal(config.listen_port, 8080);
    assert.equal(config.secret, "352d20ee67be67f6340b4c0605b044b7");
    assert.equal(config.app_path, "/opt/tyk-gateway/apps");
    assert.equal(config.storage.type, "redis");
    assert.equal(config.storage.host, "redis");
    assert.equal(config.storage.optimisation_max_idle, 2000);
    assert.equal(config.policies.policy_source, "file");
    assert.equal(config.http_server_options.xff_depth, 1);
    assert.equal(config.http_server_options.enable_strict_routes, true);
    assert.equal(config.hash_key_function, "murmur64");
    assert.equal(config.max_idle_connections_per_host, 500);
  });
});

Deno.test("parseGatewayConfig() applies Tyk's fallbacks to an empty file", () => {
  const config = parseGatewayConfig({}, "/etc/tyk/tyk.conf", {});
  assert.equal(config.listen_port, 8080);
  assert.equal(config.control_api_port, 0);
  assert.equal(config.secret, "");
  assert.equal(config.enable_jsvm, false);
  assert.equal(config.jsvm_timeout, 5);
  assert.equal(config.jsvm_pool_size, 2);
  assert.equal(config.jsvm_memory_limit_mb, 512);
  assert.equal(config.jsvm_idle_timeout, 300);
  assert.equal(jsvmIdleMs(config), 300_000);
  assert.equal(config.min_token_length, 3);
  assert.equal(config.reload_interval, 1);
  assert.equal(config.health_check_endpoint_name, "hello");
  assert.equal(config.readiness_check_endpoint_name, "ready");
  assert.equal(config.http_server_options.read_timeout, 120);
  assert.equal(config.http_server_options.write_timeout, 120);
  assert.equal(config.proxy_default_timeout, 30);
  assert.equal(config.graceful_shutdown_timeout_duration, 30);
  assert.equal(config.rate_limit_response_headers, "quotas");
  assert.equal(config.log_level, "info");
  assert.deepEqual(config.storage, {
    ...config.storage,
    type: "embedded",
    host: "localhost",
    port: 6379,
    timeout: 5,
  });
  assert.deepEqual(config.event_handlers, { events: {} });
  assert.deepEqual(config.override_messages, {});
});

Deno.test("parseGatewayConfig() keeps explicit values and clamps Tyk's code-level minimums", () => {
  const config = parseGatewayConfig(
    {
      jsvm_timeout: -3,
      reload_interval: 0,
      proxy_default_timeout: 2.5,
      min_token_length: 10,
      log_level: "WARNING",
    },
    "/x/tyk.conf",
  );
  assert.equal(config.jsvm_timeout, 5);
  assert.equal(config.reload_interval, 1);
  assert.equal(config.proxy_default_timeout, 2.5);
  assert.equal(config.min_token_length, 10);
  assert.equal(config.log_level, "warn");
});

Deno.test("jsvmIdleMs() is jsvm_idle_timeout in ms, and 0 (kept for good) when it is negative", () => {
  assert.equal(jsvmIdleMs(parseGatewayConfig({ jsvm_idle_timeout: 2 }, "/x/tyk.conf")), 2_000);
  assert.equal(jsvmIdleMs(parseGatewayConfig({ jsvm_idle_timeout: -1 }, "/x/tyk.conf")), 0);
});

Deno.test("loadGatewayConfig() names a missing file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "tyk.conf");
    await assert.rejects(loadGatewayConfig(file, {}), {
      name: "ConfigError",
      message: `Cannot load ${file}: file not found`,
    });
  } finally {
    await Deno.remove(dir);
  }
});

Deno.test("loadGatewayConfig() points at the line and column of a JSON syntax error", async () => {
  await withConfFile('{\n  "listen_port": 8080,\n    x\n}', async (file) => {
    await assert.rejects(loadGatewayConfig(file, {}), {
      name: "ConfigError",
      message:
        `Cannot load ${file}: not valid JSON (Expected double-quoted property name at line 3 column 5)`,
    });
  });
  await withConfFile('{"listen_port": 8080', async (file) => {
    await assert.rejects(loadGatewayConfig(file, {}), {
      message:
        `Cannot load ${file}: not valid JSON (Expected ',' or '}' after property value at line 1 column 21)`,
    });
  });
});

Deno.test("parseGatewayConfig() names the field and the expected type of a wrong value", () => {
  const cases: [unknown, string][] = [
    [{ listen_port: "abc" }, 'listen_port must be an integer from 0 to 65535, got "abc"'],
    [{ listen_port: 70000 }, "listen_port must be an integer from 0 to 65535, got 70000"],
    [{ listen_port: 80.5 }, "listen_port must be an integer from 0 to 65535, got 80.5"],
    [{ enable_jsvm: "yes" }, 'enable_jsvm must be true or false, got "yes"'],
    [{ secret: 42 }, "secret must be a string, got 42"],
    [{ storage: "redis" }, 'storage must be an object, got "redis"'],
    [{ storage: { type: "mongo" } }, 'storage.type must be "embedded" or "redis", got "mongo"'],
    [{ storage: { addrs: "h:6379" } }, 'storage.addrs must be a list of strings, got "h:6379"'],
    [{ jsvm_pool_size: 0 }, "jsvm_pool_size must be an integer from 1 to 64, got 0"],
    [{ jsvm_pool_size: 65 }, "jsvm_pool_size must be an integer from 1 to 64, got 65"],
    [{ jsvm_memory_limit_mb: 256 }, "jsvm_memory_limit_mb must be an integer from 320 to 16384, got 256"],
    [{ log_level: "verbose" }, 'log_level must be "debug", "info", "warn" or "error", got "verbose"'],
    [
      { http_server_options: { certificates: [{ cert_file: 5 }] } },
      "http_server_options.certificates[0].cert_file must be a string, got 5",
    ],
    [{ secrets: { a: 1 } }, "secrets.a must be a string, got 1"],
    [[1, 2], "the file must hold a JSON object, got [1,2]"],
  ];
  for (const [json, detail] of cases) assert.equal(configError(json), `Cannot load /x/tyk.conf: ${detail}`);
});

Deno.test("parseGatewayConfig() refuses storage options that cannot be honoured together", () => {
  const redis = (fields: Record<string, unknown>) => ({ storage: { type: "redis", host: "r", ...fields } });
  const cases: [unknown, string][] = [
    [
      redis({ enable_cluster: true, database: 2 }),
      "storage.database must be 0 with storage.enable_cluster (Redis Cluster has only database 0), got 2",
    ],
    [
      redis({ enable_cluster: true, master_name: "m" }),
      "storage.enable_cluster and storage.master_name cannot",
    ],
    [redis({ addrs: ["a:1", "b:2"] }), "storage.addrs lists 2 servers but only one can be used"],
    [redis({ hosts: { a: "1", b: "2" } }), "storage.addrs lists 2 servers but only one can be used"],
    [redis({ sentinel_password: "x" }), "storage.sentinel_password is set but storage.master_name is empty"],
    [redis({ ca_file: "ca.pem" }), "storage.ca_file is set but storage.use_ssl is false"],
    [
      redis({ ssl_insecure_skip_verify: true }),
      "storage.ssl_insecure_skip_verify is set but storage.use_ssl",
    ],
    [redis({ tls_max_version: "1.3" }), "storage.tls_max_version is set but storage.use_ssl is false"],
    [
      redis({ use_ssl: true, cert_file: "c.pem" }),
      "storage.cert_file and storage.key_file must be given together",
    ],
    [redis({ use_ssl: true, tls_max_version: "1.1" }), 'storage.tls_max_version "1.1" cannot be honoured'],
    [
      redis({ use_ssl: true, tls_min_version: "1.3", tls_max_version: "1.2" }),
      'storage.tls_min_version "1.3" is newer',
    ],
    [
      redis({ use_ssl: true, tls_min_version: "1.4" }),
      'storage.tls_min_version must be "1.2" or "1.3", got "1.4"',
    ],
  ];
  for (const [json, detail] of cases) {
    assert.ok(configError(json).startsWith(`Cannot load /x/tyk.conf: ${detail}`), detail);
  }
  // the embedded store ignores the Redis fields; cluster, sentinel and TLS settings that fit pass
  parseGatewayConfig({ storage: { type: "embedded", enable_cluster: true, database: 3 } }, "/x/tyk.conf");
  parseGatewayConfig(redis({ enable_cluster: true, addrs: ["a:1", "b:2"], database: 0 }), "/x/tyk.conf");
  parseGatewayConfig(
    redis({ master_name: "m", addrs: ["a:1", "b:2"], sentinel_password: "s" }),
    "/x/tyk.conf",
  );
  const lines = capturingLog((lines) => (
    parseGatewayConfig(
      redis({ use_ssl: true, tls_min_version: "1.0", tls_max_version: "1.3" }),
      "/x/tyk.conf",
    ), lines
  ));
  assert.match(
    lines.join("\n"),
    /level=warn msg="storage.tls_min_version \\"1.0\\": TLS 1.0 and 1.1 are not available/,
  );
});

Deno.test("parseGatewayConfig() reports every wrong field at once", () => {
  assert.equal(
    configError({ listen_port: "abc", hash_keys: 1 }),
    'Cannot load /x/tyk.conf: listen_port must be an integer from 0 to 65535, got "abc"; hash_keys must be true or false, got 1',
  );
});

Deno.test("parseGatewayConfig() matches keys case-insensitively like Go's encoding/json", () => {
  const config = parseGatewayConfig(
    {
      Listen_Port: 9000,
      STORAGE: { Type: "redis", HOST: "cache" },
      Http_Server_Options: { Enable_Strict_Routes: true },
    },
    "/x/tyk.conf",
  );
  assert.equal(config.listen_port, 9000);
  assert.equal(config.storage.type, "redis");
  assert.equal(config.storage.host, "cache");
  assert.equal(config.http_server_options.enable_strict_routes, true);
  // the last of two keys for one field wins; null leaves the default
  assert.equal(parseGatewayConfig({ listen_port: 1, LISTEN_PORT: 2 }, "/x/tyk.conf").listen_port, 2);
  assert.equal(parseGatewayConfig({ listen_port: null }, "/x/tyk.conf").listen_port, 8080);
});

Deno.test("parseGatewayConfig() warns once per unknown key, naming the file and the key path", () => {
  const lines = capturingLog((lines) => (
    parseGatewayConfig({
      listen_prot: 1,
      storage: { hots: "x" },
      uptime_tests: { disable: true },
      slave_options: {},
    }, "/x/tyk.conf"), lines
  ));
  assert.equal(lines.length, 2);
  assert.match(
    lines[0],
    /level=warn msg="Ignoring unknown key listen_prot" prefix=config file=\/x\/tyk.conf/,
  );
  assert.match(lines[1], /msg="Ignoring unknown key storage.hots" prefix=config file=\/x\/tyk.conf/);
  // every key of Tyk's own sample is known to Tyk, so none is warned about
  assert.deepEqual(capturingLog((lines) => (parseGatewayConfig(TYK_SAMPLE, "/x/tyk.conf"), lines)), []);
});

Deno.test("parseGatewayConfig() lets TYK_GW_* variables win over the file", () => {
  const config = parseGatewayConfig(
    { listen_port: 8080, secret: "file", storage: { port: 6380 } },
    "/x/tyk.conf",
    {
      TYK_GW_LISTENPORT: "9090",
      TYK_GW_SECRET: "from-env",
      TYK_GW_STORAGE_HOST: "redis.internal",
      TYK_GW_HTTPSERVEROPTIONS_ENABLESTRICTROUTES: "true",
      TYK_GW_POLICIES_POLICYPATH: "policies",
      TYK_GW_ENABLEJSVM: "1",
      TYK_GW_JSVMTIMEOUT: "0",
      TYK_GW_PROXYDEFAULTTIMEOUT: "1.5",
      TYK_GW_STORAGE_ADDRS: "a:6379, b:6379",
      TYK_GW_STORAGE_ENABLECLUSTER: "true",
      TYK_GW_SECRETS: "db:pw,url:http://x",
      TYK_GW_MAXIDLECONNSPERHOST: "50",
      TYK_GW_UNKNOWNFIELD: "ignored",
    },
  );
  assert.equal(config.listen_port, 9090);
  assert.equal(config.secret, "from-env");
  assert.equal(config.storage.type, "redis");
  assert.equal(config.storage.host, "redis.internal");
  assert.equal(config.storage.port, 6380);
  assert.deepEqual(config.storage.addrs, ["a:6379", "b:6379"]);
  assert.equal(config.storage.enable_cluster, true);
  assert.equal(config.http_server_options.enable_strict_routes, true);
  assert.equal(config.policies.policy_path, "/x/policies");
  assert.equal(config.enable_jsvm, true);
  assert.equal(config.jsvm_timeout, 5);
  assert.equal(config.proxy_default_timeout, 1.5);
  assert.deepEqual(config.secrets, { db: "pw", url: "http://x" });
  assert.equal(config.max_idle_connections_per_host, 50);
});

Deno.test("parseGatewayConfig() names the variable behind a bad override", () => {
  assert.equal(
    configError({}, { TYK_GW_LISTENPORT: "eighty" }),
    'Cannot load /x/tyk.conf: listen_port (from TYK_GW_LISTENPORT) must be an integer from 0 to 65535, got "eighty"',
  );
  assert.equal(
    configError({}, { TYK_GW_STORAGE_TYPE: "mongo" }),
    'Cannot load /x/tyk.conf: storage.type (from TYK_GW_STORAGE_TYPE) must be "embedded" or "redis", got "mongo"',
  );
});

Deno.test("parseGatewayConfig() reads TYK_LOGLEVEL, below TYK_GW_LOGLEVEL", () => {
  assert.equal(
    parseGatewayConfig({ log_level: "info" }, "/x/tyk.conf", { TYK_LOGLEVEL: "debug" }).log_level,
    "debug",
  );
  assert.equal(
    parseGatewayConfig({}, "/x/tyk.conf", { TYK_LOGLEVEL: "debug", TYK_GW_LOGLEVEL: "error" }).log_level,
    "error",
  );
  assert.match(configError({}, { TYK_LOGLEVEL: "loud" }), /log_level \(from TYK_LOGLEVEL\) must be/);
});

Deno.test("loadGatewayConfig() with TYK_GW_OMITCONFIGFILE=true reads only the environment", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = await loadGatewayConfig(join(dir, "absent.conf"), {
      TYK_GW_OMITCONFIGFILE: "true",
      TYK_GW_LISTENPORT: "7070",
    });
    assert.equal(config.listen_port, 7070);
    assert.equal(config.app_path, dir);
    assert.equal(config.storage.type, "embedded");
  } finally {
    await Deno.remove(dir);
  }
});

Deno.test("parseGatewayConfig() resolves paths against the config file's folder", () => {
  const config = parseGatewayConfig(
    {
      app_path: "apps/",
      template_path: "../templates",
      tyk_js_path: "js/tyk.js",
      policies: { policy_path: "/abs/policies", policy_record_name: "policies.json" },
      storage: { path: "kv" },
      http_server_options: {
        certificates: [{ domain_name: "a", cert_file: "certs/a.pem", key_file: "certs/a.key" }],
      },
    },
    "/etc/tyk/tyk.conf",
  );
  assert.equal(config.app_path, "/etc/tyk/apps");
  assert.equal(config.middleware_path, "/etc/tyk/middleware");
  assert.equal(config.template_path, "/etc/templates");
  assert.equal(config.tyk_js_path, "/etc/tyk/js/tyk.js");
  assert.equal(config.policies.policy_path, "/abs/policies");
  assert.equal(config.policies.policy_record_name, "/etc/tyk/policies.json");
  assert.equal(config.storage.path, "/etc/tyk/kv");
  assert.deepEqual(config.http_server_options.certificates, [
    { domain_name: "a", cert_file: "/etc/tyk/certs/a.pem", key_file: "/etc/tyk/certs/a.key" },
  ]);
  const empty = parseGatewayConfig({}, "/etc/tyk/tyk.conf");
  assert.equal(empty.app_path, "/etc/tyk");
  assert.equal(empty.tyk_js_path, "");
  assert.equal(empty.policies.policy_path, "");
  assert.equal(empty.storage.path, "/etc/tyk/data");
});

Deno.test("parseGatewayConfig() chooses the store like a Tyk user's file means it", () => {
  const type = (json: unknown) => parseGatewayConfig(json, "/x/tyk.conf").storage.type;
  assert.equal(type({}), "embedded");
  assert.equal(type({ storage: {} }), "embedded");
  assert.equal(type({ storage: { type: "", host: "redis" } }), "redis");
  assert.equal(type({ storage: { addrs: ["r1:6379"] } }), "redis");
  assert.equal(type({ storage: { type: "embedded", host: "redis" } }), "embedded");
});

Deno.test("parseGatewayConfig() substitutes secrets:// and env:// in secret, node_secret and storage.password", () => {
  const config = parseGatewayConfig(
    {
      secret: "secrets://gw",
      node_secret: "env://node",
      storage: { host: "r", password: "env://REDIS_PASSWORD" },
      secrets: { gw: "s3cret" },
    },
    "/x/tyk.conf",
    { TYK_SECRET_NODE: "node-secret", REDIS_PASSWORD: "pw" },
  );
  assert.equal(config.secret, "s3cret");
  assert.equal(config.node_secret, "node-secret");
  assert.equal(config.storage.password, "pw");
  assert.equal(
    configError({ secret: "secrets://nope" }),
    'Cannot load /x/tyk.conf: secret refers to secrets://nope, but secrets has no key "nope"',
  );
  assert.equal(
    configError({ node_secret: "env://missing" }),
    "Cannot load /x/tyk.conf: node_secret refers to env://missing, but neither TYK_SECRET_MISSING nor missing is set",
  );
});
