/**
 * Compiles one API definition into an immutable ApiHandle: its chain of steps in Tyk's order (`processSpec`
 * in Tyk's `gateway/api_loader.go`), with the steps it does not need left out, and its JS sandboxes. Runs
 * once per (re)load.
 */
import type { ApiDefinition } from "../config/api_definition.ts";
import { tokenAuthConfig } from "../config/api_definition.ts";
import { type GatewayConfig, jsvmIdleMs, jsvmTimeoutMs } from "../config/gateway_config.ts";
import type { PolicyMap } from "../config/policy.ts";
import { createEventBus, type EventBus } from "../events/bus.ts";
import { EVENTS } from "../events/event.ts";
import { HANDLER_FACTORIES, type HandlerContext } from "../events/handlers.ts";
import { keyFailureMeta, keyFailureRaiser } from "./events/key_failure.ts";
import { parseEgressRule } from "../config/egress_rule.ts";
import { type ApiJsSources, createApiJs, type LoadIssue, readApiJs, type WorkerSupply } from "./js/api_js.ts";
import { type GatewayHostCalls, limitHostCalls, type PluginLimits } from "./js/host_calls.ts";
import { hashKey } from "../keys/hash.ts";
import type { KeyStore } from "../keys/key_store.ts";
import { createResponseCache } from "./cache/response_cache.ts";
import { type Logger, logger } from "../log.ts";
import type { RateLimiterKind, Store } from "../store/store.ts";
import { createKeyChecks } from "./auth/key_checks.ts";
import { createTokenAuth } from "./auth/token_auth.ts";
import type { ResponseStep, Step } from "./context.ts";
import { GatewayError } from "./errors.ts";
import { createApiRateLimit } from "./limits/api_rate_limit.ts";
import { createKeyLimits } from "./limits/key_limits.ts";
import { createRateLimitsEndpoint } from "./limits/rate_limits_endpoint.ts";
import { createSizeLimit } from "./size_limit.ts";
import { createProxy } from "./proxy.ts";
import type { UpstreamClient } from "../upstream/client.ts";
import type { Chain } from "./run_chain.ts";
import { createUpstreamTarget } from "./upstream_url.ts";
import { createUrlRewrite } from "./url_rewrite.ts";
import { createVersionCheck } from "./version_check.ts";

/** What every API of a gateway shares. */
export interface GatewayServices {
  config: GatewayConfig;
  /** The folder of tyk.conf: relative plugin paths in API definitions resolve against it. */
  baseDir: string;
  keyStore: KeyStore;
  /** The connection pools every API proxies through. */
  upstream: UpstreamClient;
  /** Where rate limits, quotas and cached responses are kept. */
  store: Store;
  /** What event handlers use (store, HTTP client, template folder). */
  eventContext: HandlerContext;
  /** The policies loaded now (the reloader sets this). */
  policies?: () => PolicyMap;
  log: Logger;
  /** The `tyk_js_path` library, read once per reload. */
  userLibrary?: { file: string; code: string };
  /** Serves plugins' host calls; each API gets it with its `jsvm_limits`. */
  hostCalls?: GatewayHostCalls;
  /** Where sandboxes get their threads (some kept booted ahead). */
  workers?: WorkerSupply;
  /** The gateway's load gauge (requests being served, Int32 slot 0), read by idle sandboxes. */
  load?: SharedArrayBuffer;
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
  /** What the API's JS was built from (`ApiJsSources.key`): a reload rebuilds the API when it changed. */
  readonly jsKey: string;
  /** True when the API has JS event handlers, whose files a reload reads again: it rebuilds such APIs. */
  readonly hasJsEvents: boolean;
  /** Plugin files (and virtual endpoint sources) that failed to load: requests reaching them answer 500. */
  readonly pluginErrors: readonly LoadIssue[];
  /** Logs the API's plugin load errors again (a reload that keeps the API reports them as a rebuild would). */
  reportLoadIssues(): void;
  /** Whether the API's JS sandbox runs now: the API is in use. */
  readonly jsRunning: boolean;
  /** Starts the API's JS sandbox, if it has JS; resolves once its plugins are loaded. */
  startJs(): Promise<void>;
  /** Marks a request as using this handle (the router handed it out). */
  enter(): void;
  /** Marks that request as done. */
  leave(): void;
  /** Releases the API's sandboxes once no request uses the handle any more; idempotent. */
  close(): Promise<void>;
}

/**
 * Counts the requests on a handle, so a reload retires it only after the last one left: a request
 * routed just before a swap may not have reached its JS hooks yet.
 */
function drainBeforeClose(release: () => Promise<void>) {
  let inflight = 0;
  let idle: PromiseWithResolvers<void> | null = null;
  let closed: Promise<void> | null = null;
  return {
    enter() {
      inflight++;
    },
    leave() {
      if (--inflight === 0) idle?.resolve();
    },
    close() {
      closed ??= (async () => {
        if (inflight > 0) {
          idle = Promise.withResolvers<void>();
          await idle.promise;
        }
        await release();
      })();
      return closed;
    },
  };
}

/** Raises VersionFailure (Reason: the 403 text) when the version check refuses a request. */
function withVersionFailureEvent(check: Step | null, events: EventBus): Step | null {
  if (check === null || !events.wants(EVENTS.versionFailure)) return check;
  return async function versionCheckWithEvent(ctx) {
    let out = check(ctx);
    if (out instanceof Promise) out = await out;
    if (out instanceof GatewayError) {
      events.fire(EVENTS.versionFailure, {
        ...keyFailureMeta(ctx, "Attempted access to disallowed version / path.", ""),
        Reason: out.message,
      });
    }
    return out;
  };
}

/**
 * The limiter tyk.conf selects, in Tyk's precedence: fixed window, then sentinel and Redis rolling (both kept
 * as the exact sliding log: docs/differences.md, "sentinel limiter"), then Tyk's default, which counts a fixed
 * window per key.
 */
export function limiterKind(config: GatewayConfig): RateLimiterKind {
  if (config.enable_fixed_window_rate_limiter) return "window";
  if (config.enable_sentinel_rate_limiter || config.enable_redis_rolling_limiter) return "sliding";
  return "window";
}

/** Whether the API has enabled JS event handlers, whose files a reload must read again. */
function hasJsEventHandlers(def: ApiDefinition): boolean {
  return Object.values(def.event_handlers.events).some((handlers) =>
    handlers.some((h) => h.handler_name === "eh_dynamic_handler" && h.handler_meta.disabled !== true)
  );
}

/** What the API's plugins may do through the host API (`jsvm_limits`; Tyk's behaviour by default). */
function pluginLimits(def: ApiDefinition): PluginLimits {
  const { egress_allow, key_functions, storage_per_api } = def.jsvm_limits;
  return {
    apiId: def.api_id,
    // every entry was checked when the definition loaded
    egress: egress_allow === null ? null : egress_allow.map((entry) => parseEgressRule(entry)!),
    keyFunctions: key_functions,
    storagePerApi: storage_per_api,
  };
}

/**
 * Reads what an API's JS is built from (its plugin files, the directory loader's included, and virtual
 * endpoint sources), as they are on disk now.
 */
export function readJsSources(def: ApiDefinition, services: GatewayServices): Promise<ApiJsSources> {
  return readApiJs(def, {
    middlewarePath: services.config.middleware_path,
    baseDir: services.baseDir,
    userLibrary: services.userLibrary,
    disableVirtualPathBlobs: services.config.disable_virtual_path_blobs,
  });
}

/**
 * Builds an API's handle, its JS from `jsSources` (read now when not given).
 * @throws TypeError when target_url cannot be parsed (the loader reports it with the file name).
 */
export async function compileApi(
  file: string,
  def: ApiDefinition,
  services: GatewayServices,
  jsSources?: ApiJsSources,
): Promise<ApiHandle> {
  const { config, log } = services;
  const target = createUpstreamTarget(def.proxy.target_url, {
    stripListenPath: def.proxy.strip_listen_path,
    disableStripSlash: def.proxy.disable_strip_slash,
  });
  const hostCalls = services.hostCalls && limitHostCalls(services.hostCalls, pluginLimits(def));
  const read = jsSources ?? await readJsSources(def, services);
  const js = await createApiJs(def, {
    enableJsvm: config.enable_jsvm,
    timeoutMs: jsvmTimeoutMs(config),
    poolSize: config.jsvm_pool_size,
    memoryLimitMb: config.jsvm_memory_limit_mb,
    idleMs: jsvmIdleMs(config),
    middlewarePath: config.middleware_path,
    baseDir: services.baseDir,
    userLibrary: services.userLibrary,
    hostCalls,
    workers: services.workers,
    load: services.load,
    ignoreCanonicalHeaders: config.ignore_canonical_mime_header_key,
    fuseHooks: config.jsvm_fuse_hooks,
    disableVirtualPathBlobs: config.disable_virtual_path_blobs,
    prefixMatching: config.http_server_options.enable_path_prefix_matching,
    suffixMatching: config.http_server_options.enable_path_suffix_matching,
  }, read);

  const limiter = limiterKind(config);
  const events = createEventBus(def.event_handlers.events, {
    factories: HANDLER_FACTORIES,
    context: {
      ...services.eventContext,
      jsEvents: {
        apiId: def.api_id,
        orgId: def.org_id,
        enableJsvm: config.enable_jsvm,
        timeoutMs: jsvmTimeoutMs(config),
        baseDir: services.baseDir,
        userLibrary: services.userLibrary,
        hostCalls,
        memoryLimitMb: config.jsvm_memory_limit_mb,
        workers: services.workers,
        load: services.load,
        log: logger("jsvm"),
        sandboxes: new Map(),
      },
    },
    log,
    owner: def.api_id,
  });
  const matching = {
    prefixMatching: config.http_server_options.enable_path_prefix_matching,
    suffixMatching: config.http_server_options.enable_path_suffix_matching,
  };
  const steps: (Step | null | undefined)[] = [
    js?.wake,
    withVersionFailureEvent(createVersionCheck(def, matching), events),
    js?.pre,
    // Tyk: after the pre hooks and the IP lists, before authentication
    createSizeLimit(def, matching),
  ];
  if (!def.use_keyless) {
    const useStandard = def.use_standard_auth || !js?.authCheck;
    // no other auth between the JS auth_check and the post_key_auth hooks: one step, so they share a call
    const fused = useStandard ? null : js?.authPostKeyAuth;
    steps.push(
      fused ?? js?.authCheck,
      useStandard
        ? createTokenAuth(def.org_id, tokenAuthConfig(def), {
          keyStore: services.keyStore,
          log,
          overrides: config.override_messages,
          policies: services.policies,
          onAuthFailure: keyFailureRaiser(events, EVENTS.authFailure, "Auth Failure"),
          installSession: def.base_identity_provided_by === "" ||
            def.base_identity_provided_by === "auth_token",
        })
        : null,
      fused ? null : js?.postKeyAuth,
      createKeyChecks({
        notVersioned: def.version_data.not_versioned,
        onKeyExpired: events.wants(EVENTS.keyExpired)
          ? (ctx, message) => events.fire(EVENTS.keyExpired, keyFailureMeta(ctx, message, ctx.sessionKey))
          : undefined,
      }),
      createRateLimitsEndpoint(def.proxy.listen_path, {
        store: services.store,
        keyId: (keyName) => services.keyStore.storageId(keyName),
      }),
      createKeyLimits({
        store: services.store,
        keyId: (keyName) => services.keyStore.storageId(keyName),
        limiter,
        disableRateLimit: def.disable_rate_limit,
        disableQuota: def.disable_quota,
        headers: config.rate_limit_response_headers,
        onRateLimited: keyFailureRaiser(events, EVENTS.rateLimitExceeded, "Rate Limit Exceeded"),
        onQuotaExceeded: keyFailureRaiser(events, EVENTS.quotaExceeded, "Key Quota Limit Exceeded"),
        onStoreError: (ctx, err) =>
          log.error("Cannot check rate limit and quota: store unavailable", {
            api_id: ctx.apiId,
            error: String(err),
          }),
      }),
    );
  }
  steps.push(
    createApiRateLimit(def, {
      store: services.store,
      limiter,
      hashKey: (name) => hashKey(name, config.hash_keys),
      onRateLimited: keyFailureRaiser(events, EVENTS.rateLimitExceeded, "API Rate Limit Exceeded"),
      onStoreError: (ctx, err) =>
        log.error("Cannot check the API rate limit: store unavailable; letting requests through", {
          api_id: ctx.apiId,
          error: String(err),
        }),
    }),
  );
  const cache = createResponseCache(def, {
    store: services.store,
    log,
    prefixMatching: config.http_server_options.enable_path_prefix_matching,
    suffixMatching: config.http_server_options.enable_path_suffix_matching,
  });
  const urlRewrite = createUrlRewrite(def, {
    prefixMatching: config.http_server_options.enable_path_prefix_matching,
    suffixMatching: config.http_server_options.enable_path_suffix_matching,
    log,
  });
  // Tyk: the cache lookup, then the virtual endpoint; post hooks run only when neither answered. Tyk works out
  // the rewritten URL before both but applies it only for post hooks and the proxy, so it runs after them here
  steps.push(cache?.lookup, js?.virtual, urlRewrite);
  // nothing between the pre and the post hooks: one step, so they share a sandbox call
  const preAt = js?.prePost ? steps.indexOf(js.pre) : -1;
  if (preAt >= 0 && steps.slice(preAt + 1).every((step) => !step)) steps[preAt] = js!.prePost;
  else steps.push(js?.post);
  // Tyk's response chain: JS response hooks, then the cache writer
  const response: (ResponseStep | null | undefined)[] = [js?.response, cache?.write];

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
  }, services.upstream);

  return {
    apiId: def.api_id,
    orgId: def.org_id,
    listenPath: def.proxy.listen_path,
    file,
    def,
    chain: {
      steps: steps.filter((s): s is Step => !!s),
      proxy,
      response: response.filter((s): s is ResponseStep => !!s),
    },
    sessionLifetime: def.session_lifetime,
    createsSessions: !!js?.authCheck,
    jsKey: read.key,
    hasJsEvents: hasJsEventHandlers(def),
    pluginErrors: js?.issues ?? [],
    reportLoadIssues: () => js?.reportIssues(),
    get jsRunning() {
      return js?.running() ?? false;
    },
    startJs: () => js?.start() ?? Promise.resolve(),
    ...drainBeforeClose(async () => {
      await Promise.all([js?.close(), events.close()]);
    }),
  };
}

/**
 * Whether a reload may keep serving `old` (and its warm sandboxes) for `def`: the definition is unchanged,
 * and so is its JS as read now (`readJsSources`), and it has no JS event handlers (their files are read as
 * the handlers are built). A plugin file added, edited or removed since rebuilds the API, so the change
 * takes effect (docs/differences.md, "reload").
 */
export function canReuse(old: ApiHandle, def: ApiDefinition, jsSources: ApiJsSources): boolean {
  return !old.hasJsEvents && old.jsKey === jsSources.key && JSON.stringify(old.def) === JSON.stringify(def);
}
