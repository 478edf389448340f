/**
 * Compiles one API definition into an immutable ApiHandle: its chain of steps in Tyk's order (gateway-core
 * spec §6), with the steps it does not need left out, and its JS sandboxes. Runs once per (re)load.
 */
import type { ApiDefinition } from "../config/api_definition.ts";
import { tokenAuthConfig } from "../config/api_definition.ts";
import type { GatewayConfig } from "../config/gateway_config.ts";
import type { KeyStore } from "../keys/key_store.ts";
import type { Logger } from "../log.ts";
import { createKeyChecks } from "./auth/key_checks.ts";
import { createTokenAuth } from "./auth/token_auth.ts";
import type { Step } from "./context.ts";
import { createProxy } from "./proxy.ts";
import type { Chain } from "./run_chain.ts";
import type { UpstreamAgents } from "./upstream_client.ts";
import { createUpstreamTarget } from "./upstream_url.ts";
import { createVersionCheck } from "./version_check.ts";

/** What every API of a gateway shares. */
export interface GatewayServices {
  config: GatewayConfig;
  /** The folder of tyk.conf: relative plugin paths in API definitions resolve against it. */
  baseDir: string;
  keyStore: KeyStore;
  agents: UpstreamAgents;
  log: Logger;
  /** The `tyk_js_path` library, read once per reload. */
  userLibrary?: { file: string; code: string };
}

/** A loaded API, ready to serve. */
export interface ApiHandle {
  readonly apiId: string;
  readonly orgId: string;
  readonly listenPath: string;
  /** The file the definition came from. */
  readonly file: string;
  /** The validated definition, as `/tyk/apis` returns it. */
  readonly def: ApiDefinition;
  readonly chain: Chain;
  /** Redis TTL of this API's key records when written back (API session_lifetime). */
  readonly sessionLifetime: number;
  /** True when the API stores sessions its JS auth_check created. */
  readonly createsSessions: boolean;
  /** True when the API runs JS; such APIs are rebuilt on every reload (DECISIONS #11). */
  readonly hasJs: boolean;
  /** Releases the API's sandboxes once their in-flight calls are done; idempotent. */
  close(): Promise<void>;
}

/**
 * Builds an API's handle.
 * @throws TypeError when target_url cannot be parsed (the loader reports it with the file name).
 */
export function compileApi(
  file: string,
  def: ApiDefinition,
  services: GatewayServices,
): Promise<ApiHandle> {
  const { config, log } = services;
  const target = createUpstreamTarget(def.proxy.target_url, {
    stripListenPath: def.proxy.strip_listen_path,
    disableStripSlash: def.proxy.disable_strip_slash,
  });
  const steps: (Step | null | undefined)[] = [
    createVersionCheck(def, {
      prefixMatching: config.http_server_options.enable_path_prefix_matching,
      suffixMatching: config.http_server_options.enable_path_suffix_matching,
    }),
  ];
  if (!def.use_keyless) {
    steps.push(
      createTokenAuth(def.org_id, tokenAuthConfig(def), {
        keyStore: services.keyStore,
        log,
        overrides: config.override_messages,
      }),
      createKeyChecks({ notVersioned: def.version_data.not_versioned }),
    );
  }

  const auth = tokenAuthConfig(def);
  const proxy = createProxy({
    target,
    preserveHost: def.proxy.preserve_host_header,
    timeoutMs: config.proxy_default_timeout * 1000,
    insecure: config.proxy_ssl_insecure_skip_verify || def.proxy.transport?.ssl_insecure_skip_verify,
    stripAuth: def.strip_auth_data
      ? {
        header: auth.disable_header ? undefined : auth.auth_header_name || "Authorization",
        param: auth.use_param ? auth.param_name || auth.auth_header_name : undefined,
        cookie: auth.use_cookie ? auth.cookie_name || auth.auth_header_name : undefined,
      }
      : undefined,
  }, services.agents);

  return Promise.resolve({
    apiId: def.api_id,
    orgId: def.org_id,
    listenPath: def.proxy.listen_path,
    file,
    def,
    chain: { steps: steps.filter((s): s is Step => !!s), proxy },
    sessionLifetime: def.session_lifetime,
    createsSessions: false,
    hasJs: false,
    close: () => Promise.resolve(),
  });
}
