/**
 * Starts a gateway from a validated config: the shared services (store, key store, upstream client, API
 * reloader), cluster notifications, the control API, the file watcher and the listeners; `stop()` shuts
 * them down in reverse order.
 */
import { BodyBudget } from "../chain/body_budget.ts";
import { createErrorRenderer, GatewayError, MESSAGES } from "../chain/errors.ts";
import { type GatewayConfig, jsvmIdleMs, jsvmTimeoutMs } from "../config/gateway_config.ts";
import { createEventBus, type EventBus } from "../events/bus.ts";
import { HANDLER_FACTORIES, type HandlerContext } from "../events/handlers.ts";
import { createHostCalls } from "../chain/js/host_calls.ts";
import { KeyStore } from "../keys/key_store.ts";
import { type Logger, logger } from "../log.ts";
import { openStore } from "../store/open_store.ts";
import type { Store, Subscription } from "../store/store.ts";
import { publishNotification, subscribeCluster } from "./cluster.ts";
import { ConnectionGuard } from "./connection_guard.ts";
import { createControlApi } from "./control_api.ts";
import { createApiHandler, splitTarget } from "./handler.ts";
import { type HttpHandler, serveHttp } from "./http_server.ts";
import { LOAD_GAUGE } from "./load_gauge.ts";
import { ApiReloader } from "./reload.ts";
import { loadErrorTemplates } from "./templates.ts";
import { watchFolders } from "./watch.ts";
import { UpstreamClient } from "../upstream/client.ts";
import { createWorkerSupply, type WorkerSupply } from "../jsvm/host/worker_supply.ts";

/** A running gateway. */
export interface Gateway {
  /** The port API traffic is served on. */
  readonly port: number;
  /** Reloads the APIs now and resolves when done. */
  reload: ApiReloader["reload"];
  /** Stops listening, finishes in-flight requests, closes sandboxes and the store. */
  stop(): Promise<void>;
}

/** What every API of the gateway shares, opened once at start. */
interface Services {
  store: Store;
  keyStore: KeyStore;
  upstream: UpstreamClient;
  reloader: ApiReloader;
  /** Where the APIs' sandboxes get their Workers. */
  workers: WorkerSupply;
  /** The event handlers of tyk.conf (token events). */
  systemEvents: EventBus;
  /** The port the control API listens on, once it does (plugins' egress limits keep away from it). */
  adminPort: { port: number };
}

/**
 * Opens the store and builds what every API shares: key store, upstream client, host calls, event
 * handlers, reloader.
 */
async function openServices(config: GatewayConfig, baseDir: string): Promise<Services> {
  const store = await openStore(config.storage);
  const keyStore = new KeyStore(store, {
    hashKeys: config.hash_keys,
    hashKeyFunction: config.hash_key_function,
    minTokenLength: config.min_token_length,
    cacheTtlMs: config.local_session_cache.disable_cached_session_state ? 0 : 10_000,
  });
  // Go's transport keeps 2 idle connections per host when max_idle_connections_per_host is 0; with 2 a
  // busy upstream would reconnect on most requests, so 0 keeps 100 here (docs/differences.md)
  const upstream = new UpstreamClient({
    keepAlive: !config.proxy_close_connections,
    maxIdlePerHost: config.max_idle_connections_per_host || 100,
  });
  const adminPort = { port: config.control_api_port || config.listen_port };
  const hostCalls = createHostCalls({
    adminPort: () => adminPort.port,
    upstream,
    insecure: config.proxy_ssl_insecure_skip_verify,
    keyStore,
    store,
    log: logger("jsvm"),
    timeoutMs: jsvmTimeoutMs(config),
    ignoreCanonical: config.ignore_canonical_mime_header_key,
    sessionLifetime: config.global_session_lifetime,
    apiOrg: (apiId) => reloader.current().byId.get(apiId)?.orgId,
  });
  const eventContext: HandlerContext = {
    store,
    upstream,
    log: logger("webhooks"),
    templatePath: config.template_path,
    baseDir,
    ignoreCanonical: config.ignore_canonical_mime_header_key,
  };
  const systemEvents = createEventBus(config.event_handlers.events, {
    factories: HANDLER_FACTORIES,
    context: eventContext,
    log: logger("main"),
    owner: "tyk.conf",
  });
  const workers = createWorkerSupply({ idleMs: jsvmIdleMs(config) });
  const reloader = new ApiReloader({
    config,
    baseDir,
    keyStore,
    upstream,
    store,
    eventContext,
    hostCalls,
    workers,
    load: LOAD_GAUGE,
    log: logger("gateway"),
  });
  return { store, keyStore, upstream, reloader, workers, systemEvents, adminPort };
}

/** Subscribes to the cluster channel (group reloads, key evictions); null when off or unreachable. */
async function joinCluster(
  config: GatewayConfig,
  { store, keyStore }: Services,
  reload: () => void,
): Promise<Subscription | null> {
  if (config.suppress_redis_signal_reload) return null;
  try {
    return await subscribeCluster({
      store,
      nodeSecret: config.node_secret,
      allowInsecure: config.allow_insecure_configs,
      log: logger("pub-sub"),
      onReload: reload,
      onEvict: (ids) => keyStore.evict(ids),
    });
  } catch (err) {
    logger("main").error(
      "Cannot subscribe to cluster notifications; group reloads will not reach this node",
      { error: String(err) },
    );
    return null;
  }
}

/**
 * Splits requests between the Gateway API (`/tyk/*` and the health paths) and API traffic. On one port
 * both are served; with a separate `control_api_port`, each listener answers 404 for the other's paths.
 * @returns the handler of the API port, and of the control port when there is one
 */
function routeTraffic(
  config: GatewayConfig,
  control: { fetch(request: Request): Response | Promise<Response> },
  handleApi: (request: Request, clientIp: string) => Promise<Response>,
): { api: HttpHandler; control: HttpHandler | null } {
  const health = new Set([
    `/${config.health_check_endpoint_name}`,
    `/${config.readiness_check_endpoint_name}`,
  ]);
  const isControlPath = (path: string) => path === "/tyk" || path.startsWith("/tyk/") || health.has(path);
  const separate = config.control_api_port > 0 && config.control_api_port !== config.listen_port;
  return {
    api: (request, info) => {
      if (!isControlPath(splitTarget(request.url).path)) return handleApi(request, info.remoteAddr.hostname);
      return separate ? new Response("Not Found", { status: 404 }) : control.fetch(request);
    },
    control: separate
      ? (request) =>
        isControlPath(splitTarget(request.url).path)
          ? control.fetch(request)
          : new Response("Not Found", { status: 404 })
      : null,
  };
}

/** The gateway's listeners, stopped together. */
interface Listeners {
  /** The port API traffic is served on. */
  port: number;
  /** The port the control API is served on (the same unless it has its own). */
  adminPort: number;
  /** Stops accepting and resolves once every connection is done. */
  close(): Promise<void>;
}

/**
 * Starts the API listener (and the control listener when it has its own port), both under one
 * connection guard (read and write timeouts, max_connections).
 */
function listen(
  config: GatewayConfig,
  handlers: { api: HttpHandler; control: HttpHandler | null },
  options: { onError: (err: unknown) => Response; log: Logger; storeKind: string },
): Listeners {
  const { onError, log } = options;
  const serverOptions = config.http_server_options;
  const guard = new ConnectionGuard({
    readTimeoutMs: serverOptions.read_timeout * 1000,
    writeTimeoutMs: serverOptions.write_timeout * 1000,
    maxConnections: serverOptions.max_connections,
    log: logger("server"),
  });
  const hostname = config.listen_address || "0.0.0.0";
  const tls = tlsOptions(config);
  const servers = [
    serveHttp({ hostname, port: config.listen_port, tls, guard, handler: handlers.api, onError, log }),
  ];
  log.announce(`Gateway listening on ${servers[0].addr.hostname}:${servers[0].addr.port}`, {
    store: options.storeKind,
    max_connections: guard.maxConnections,
  });
  if (handlers.control) {
    const controlServer = serveHttp({
      hostname,
      port: config.control_api_port,
      tls,
      guard,
      handler: handlers.control,
      onError,
      log,
    });
    servers.push(controlServer);
    log.announce(`Control API listening on ${controlServer.addr.hostname}:${controlServer.addr.port}`);
  }
  return {
    port: servers[0].addr.port,
    adminPort: servers[servers.length - 1].addr.port,
    async close() {
      for (const server of servers) server.close();
      guard.closeAll();
      await Promise.all(servers.map((s) => s.finished));
    },
  };
}

/**
 * Starts serving; resolves once the first reload is done and the listener is up.
 * @param baseDir the folder of tyk.conf, against which plugin paths in API definitions resolve
 */
export async function startGateway(config: GatewayConfig, baseDir: string): Promise<Gateway> {
  const log = logger("main");
  const services = await openServices(config, baseDir);
  const { store, keyStore, upstream, reloader, workers, systemEvents } = services;
  const reload = () => reloader.reload();
  const subscription = await joinCluster(config, services, () => void reload());
  let shuttingDown = false;

  const control = createControlApi({
    config,
    store,
    keyStore,
    current: reloader.current,
    policies: reloader.policies,
    events: systemEvents,
    reload,
    groupReload: () => publishNotification(store, "GroupReload", "", config.node_secret),
    isReady: () =>
      shuttingDown
        ? { ready: false, reason: "Gateway is shutting down" }
        : { ready: reloader.succeeded, reason: "A successful API reload did not happen" },
    log: logger("api"),
  });
  const renderError = createErrorRenderer({
    hideGeneratorHeader: config.hide_generator_header,
    closeConnections: config.close_connections,
    templates: await loadErrorTemplates(config.template_path, log),
  });
  const handleApi = createApiHandler({
    bodyBudget: bodyBudgetOf(config),
    maxRequestBodySize: config.http_server_options.max_request_body_size,
    current: reloader.current,
    keyStore,
    renderError,
    log: logger("proxy"),
    scheme: config.http_server_options.use_ssl ? "https" : "http",
    globalSessionLifetime: config.global_session_lifetime,
    limitHeaders: config.rate_limit_response_headers,
  });

  // Watch before the first reload, so a change made during start-up is never missed or read half-written
  const watcher = await watchFolders(
    [config.app_path, config.middleware_path],
    () => void reload(),
    logger("watch"),
  );
  reloader.followFileChanges(() => watcher.changes);
  try {
    await reloader.reload();
  } catch (err) {
    watcher.close();
    throw err;
  }

  const listeners = listen(config, routeTraffic(config, control, handleApi), {
    // The outermost fallback: even a bug answers with Tyk's 500 body
    onError: (err) => {
      log.error("Unhandled error while serving a request", { error: String(err) });
      return renderError(new GatewayError(500, MESSAGES.internal), null);
    },
    log,
    storeKind: store.kind,
  });
  services.adminPort.port = listeners.adminPort;

  return {
    port: listeners.port,
    reload,
    async stop() {
      shuttingDown = true;
      watcher.close();
      await listeners.close();
      await subscription?.close();
      await reloader.close();
      workers.close();
      await store.close();
      upstream.close();
      log.info("Gateway stopped");
    },
  };
}

/** What request bodies steps hold in memory may take: per request and in total. */
function bodyBudgetOf(config: GatewayConfig): BodyBudget {
  const options = config.http_server_options;
  return new BodyBudget({
    // a body over max_request_body_size is refused whether it streams or is held
    maxBodySize: options.max_request_body_size > 0
      ? Math.min(options.max_request_body_size, options.max_buffered_body_size)
      : options.max_buffered_body_size,
    maxTotalSize: options.max_buffered_total_size,
  });
}

function tlsOptions(config: GatewayConfig): { cert: string; key: string } | undefined {
  const first = config.http_server_options.certificates[0];
  if (!config.http_server_options.use_ssl || !first) return undefined;
  return { cert: Deno.readTextFileSync(first.cert_file), key: Deno.readTextFileSync(first.key_file) };
}
