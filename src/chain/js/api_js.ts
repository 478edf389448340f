/**
 * An API's JS, built once per API load: collects the plugins and virtual endpoints, makes the API's sandbox
 * pool (which checks the sources at once and starts a sandbox only at the first JS call) and returns one chain
 * step per hook stage, plus the virtual endpoint step.
 */
import { createHash } from "node:crypto";
import {
  createJsAuthCheckStep,
  createJsHookRunStep,
  createJsHookStep,
  type JsHookApi,
} from "./hook_steps.ts";
import type { ResponseStep, Step } from "../context.ts";
import { GatewayError, MESSAGES } from "../errors.ts";
import type { ApiDefinition } from "../../config/api_definition.ts";
import { type Logger, logger } from "../../log.ts";
import { type CollectedPlugins, collectPlugins, type HookEntry, undefinedNames } from "./plugin_loader.ts";
import { createJsResponseStep, disabledResponseStep } from "./response_hooks.ts";
import { createVirtualEndpointStep } from "./virtual_endpoint.ts";
import { type CollectedVirtualEndpoints, collectVirtualEndpoints } from "./virtual_sources.ts";
import { createSandboxPool, type HostCallHandler, type LoadIssue } from "../../jsvm/host/sandbox_pool.ts";
import type { WorkerSupply } from "../../jsvm/host/worker_supply.ts";

export type { HostCallHandler, LoadIssue } from "../../jsvm/host/sandbox_pool.ts";
export type { WorkerSupply } from "../../jsvm/host/worker_supply.ts";

/** Gateway settings every API's JS uses. */
export interface ApiJsOptions {
  /** `enable_jsvm`: when false, JS hooks answer 500 "middleware error" and no worker starts. */
  enableJsvm: boolean;
  /** `jsvm_timeout` in milliseconds, per hook call. */
  timeoutMs: number;
  /** Workers per API at most. */
  poolSize: number;
  /** `jsvm_memory_limit_mb`: each sandbox's heap limit. @default 512 */
  memoryLimitMb?: number;
  /** A sandbox without calls for this long is stopped, its memory released; 0 keeps it. @default 0 */
  idleMs?: number;
  /** `middleware_path`, the directory loader's root. */
  middlewarePath: string;
  /** Relative plugin paths resolve against this folder (the tyk.conf folder). */
  baseDir: string;
  /** The `tyk_js_path` library, evaluated before the plugins. */
  userLibrary?: { file: string; code: string };
  /** Serves the plugins' synchronous calls (TykMakeHttpRequest, TykGetKeyData, …). */
  hostCalls?: HostCallHandler;
  /** Where sandboxes get their Workers; without one each starts its own. */
  workers?: WorkerSupply;
  /** The gateway's load gauge, read by idle sandboxes (see `SandboxSpec.load`). */
  load?: SharedArrayBuffer;
  /** `jsvm_fuse_hooks`: hooks that follow each other go to the sandbox in one call. @default true */
  fuseHooks?: boolean;
  /** `ignore_canonical_mime_header_key`. @default false */
  ignoreCanonicalHeaders?: boolean;
  /** `disable_virtual_path_blobs`: virtual endpoints may not come from base64 blobs. @default false */
  disableVirtualPathBlobs?: boolean;
  /** `http_server_options.enable_path_prefix_matching`, for virtual endpoint paths. @default false */
  prefixMatching?: boolean;
  /** `http_server_options.enable_path_suffix_matching`, for virtual endpoint paths. @default false */
  suffixMatching?: boolean;
  /** Where load problems and hook failures are logged. @default logger("jsvm") */
  log?: Logger;
}

/** An API's JS hook steps; a stage without hooks is `null`. */
export interface ApiJs {
  /** The chain's first step: wakes a sleeping sandbox as the request arrives (see `SandboxPool.wake`). */
  wake: Step | null;
  pre: Step | null;
  authCheck: Step | null;
  postKeyAuth: Step | null;
  post: Step | null;
  /**
   * The `pre` and `post` hooks as one step, for a chain where nothing stands between them; `null` unless
   * the API has both and hooks are fused (`jsvm_fuse_hooks`).
   */
  prePost: Step | null;
  /**
   * The `auth_check` and `post_key_auth` hooks as one step, for a chain where no other auth runs between
   * them; `null` unless the API has both and hooks are fused.
   */
  authPostKeyAuth: Step | null;
  /** Answers requests to the API's virtual endpoints (before the post hooks). */
  virtual: Step | null;
  /** Runs the response hooks on the proxied response and on virtual endpoint and post hook answers. */
  response: ResponseStep | null;
  /**
   * Files that failed to load (each logged with the api_id when found): at once, what fails without running
   * it; once the sandbox first starts, also what failed when it ran them.
   */
  issues: LoadIssue[];
  /** Logs `issues` again (a reload that keeps the API reports its broken plugins as one that rebuilds it). */
  reportIssues(): void;
  /** Whether the API's sandbox runs now (it got JS calls, and has not been idle for `idleMs` since). */
  running(): boolean;
  /** Starts the API's sandbox, if none runs, and resolves once it has loaded the plugins. */
  start(): Promise<void>;
  /** Drains and terminates this API's sandboxes; idempotent. */
  close(): Promise<void>;
}

/** What an API's JS is built from, as read from the definition and from disk at one moment. */
export interface ApiJsSources {
  plugins: CollectedPlugins;
  virtual: CollectedVirtualEndpoints;
  /** The `tyk_js_path` library, when the API runs JS. */
  userLibrary?: { file: string; code: string };
  /** SHA-256 of all of the above: two reads with the same key build the same JS. */
  key: string;
}

/** Where an API's JS is read from. */
export type ReadApiJsOptions = Pick<
  ApiJsOptions,
  "middlewarePath" | "baseDir" | "userLibrary" | "disableVirtualPathBlobs" | "log"
>;

/**
 * Reads an API's JS: its plugin files (the directory loader's included) and virtual endpoint sources, as
 * they are on disk now.
 * @example
 * const js = await readApiJs(def, { middlewarePath, baseDir });
 * if (js.key !== previous.key) rebuild();
 */
export async function readApiJs(def: ApiDefinition, options: ReadApiJsOptions): Promise<ApiJsSources> {
  const log = options.log ?? logger("jsvm");
  const plugins = await collectPlugins(def, {
    middlewarePath: options.middlewarePath,
    baseDir: options.baseDir,
    log,
  });
  const virtual = await collectVirtualEndpoints(def, {
    baseDir: options.baseDir,
    disableBlobs: options.disableVirtualPathBlobs ?? false,
    log,
  });
  const runsJs = plugins.sources.length > 0 || plugins.issues.length > 0 || virtual.endpoints.length > 0;
  const userLibrary = runsJs ? options.userLibrary : undefined;
  const key = createHash("sha256").update(JSON.stringify([
    plugins,
    virtual.endpoints,
    virtual.sources,
    virtual.issues,
    userLibrary ?? null,
  ])).digest("hex");
  return { plugins, virtual, userLibrary, key };
}

function disabledStep(entries: HookEntry[] | HookEntry | null): Step | null {
  if (entries === null || (Array.isArray(entries) && entries.length === 0)) return null;
  const error = new GatewayError(500, MESSAGES.middlewareError);
  return function jsvmDisabled() {
    return error;
  };
}

/**
 * Builds an API's JS steps from `read` (read now when not given); `null` when the API has no JS hooks and
 * no virtual endpoints, so no worker is ever created for it.
 * @example
 * const js = await createApiJs(def, { enableJsvm: true, timeoutMs: 5000, poolSize: 2, middlewarePath, baseDir });
 * const steps = [js?.pre, js?.authCheck, js?.postKeyAuth, js?.post];
 */
export async function createApiJs(
  def: ApiDefinition,
  options: ApiJsOptions,
  read?: ApiJsSources,
): Promise<ApiJs | null> {
  const log = options.log ?? logger("jsvm");
  const { plugins, virtual, userLibrary } = read ?? await readApiJs(def, options);
  const { driver, hooks, sources } = plugins;
  const issues = [...plugins.issues];
  const count = hooks.pre.length + hooks.postKeyAuth.length + hooks.post.length + hooks.response.length +
    (hooks.authCheck ? 1 : 0);
  if (count === 0 && virtual.endpoints.length === 0) return null;

  if (!options.enableJsvm) {
    if (virtual.endpoints.length > 0) {
      log.warn(`API "${def.api_id}" has virtual endpoints but enable_jsvm is false: they are proxied`, {
        api_id: def.api_id,
      });
    }
    if (count === 0) return null;
    log.warn(`API "${def.api_id}" has JS plugins but enable_jsvm is false: its hooks answer 500`, {
      api_id: def.api_id,
    });
    return {
      wake: null,
      pre: disabledStep(hooks.pre),
      authCheck: disabledStep(hooks.authCheck),
      postKeyAuth: disabledStep(hooks.postKeyAuth),
      post: disabledStep(hooks.post),
      prePost: null,
      authPostKeyAuth: null,
      virtual: null,
      response: disabledResponseStep(hooks.response),
      issues: [],
      reportIssues: () => {},
      running: () => false,
      start: () => Promise.resolve(),
      close: () => Promise.resolve(),
    };
  }

  issues.unshift(...virtual.issues);
  issues.push(...undefinedNames(plugins, userLibrary?.code));
  const logIssues = (found: readonly LoadIssue[]) => {
    for (const issue of found) {
      log.error(`Cannot load JS plugin: ${issue.message}`, {
        api_id: def.api_id,
        file: issue.file,
        line: issue.line,
        column: issue.column,
      });
    }
  };
  const pool = createSandboxPool({
    apiId: def.api_id,
    orgId: def.org_id,
    // Virtual endpoints need no driver: without hooks they run on otto unless the API asks for javascript
    driver: count > 0 ? driver : def.custom_middleware.driver === "javascript" ? "javascript" : "otto",
    userLibrary,
    // otto's load order: the user library, virtual endpoint sources, then middleware files
    sources: [...virtual.sources, ...sources],
    timeoutMs: options.timeoutMs,
    size: options.poolSize,
    memoryLimitMb: options.memoryLimitMb,
    idleMs: options.idleMs,
    hostCalls: options.hostCalls,
    supply: options.workers,
    load: options.load,
    log,
    onLoad: (found) => {
      issues.push(...found);
      logIssues(found);
    },
  });
  issues.push(...pool.issues);
  logIssues(issues);

  const api: JsHookApi = {
    apiId: def.api_id,
    orgId: def.org_id,
    driver,
    configData: def.config_data,
    configDataDisabled: def.config_data_disabled,
    ignoreCanonical: options.ignoreCanonicalHeaders ?? false,
  };
  const identity = def.base_identity_provided_by;
  const installSession = identity === "" || identity === "custom_auth";
  const fuse = { fuse: options.fuseHooks ?? true };
  return {
    wake: function wakeSandbox() {
      pool.wake();
      return undefined;
    },
    pre: createJsHookStep("pre", hooks.pre, pool, api, log, fuse),
    authCheck: hooks.authCheck
      ? createJsAuthCheckStep(hooks.authCheck, pool, api, log, { installSession })
      : null,
    postKeyAuth: createJsHookStep("post_key_auth", hooks.postKeyAuth, pool, api, log, fuse),
    post: createJsHookStep("post", hooks.post, pool, api, log, fuse),
    prePost: fuse.fuse && hooks.pre.length > 0 && hooks.post.length > 0
      ? createJsHookRunStep(
        [{ kind: "pre", entries: hooks.pre }, { kind: "post", entries: hooks.post }],
        pool,
        api,
        log,
        fuse,
      )
      : null,
    authPostKeyAuth: fuse.fuse && hooks.authCheck && hooks.postKeyAuth.length > 0
      ? createJsHookRunStep(
        [
          { kind: "auth_check", entries: [hooks.authCheck], installSession },
          { kind: "post_key_auth", entries: hooks.postKeyAuth },
        ],
        pool,
        api,
        log,
        fuse,
      )
      : null,
    virtual: createVirtualEndpointStep(def, virtual.endpoints, pool, api, {
      log,
      prefixMatching: options.prefixMatching,
      suffixMatching: options.suffixMatching,
    }),
    response: createJsResponseStep(hooks.response, pool, api, {
      log,
      stripListenPath: def.proxy.strip_listen_path,
    }),
    issues,
    reportIssues: () => logIssues(issues),
    running: () => pool.running,
    start: async () => {
      await pool.load();
    },
    close: () => pool.close(),
  };
}
