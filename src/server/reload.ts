/**
 * Hot reload, as Tyk's `DoReload`: reads app_path, compiles every API, and swaps the routing
 * table as one reference. Requests already routed finish on the old handles, which are closed afterwards.
 * Reload requests that arrive while one runs coalesce into one more run.
 */
import {
  type ApiHandle,
  canReuse,
  compileApi,
  type GatewayServices,
  readJsSources,
} from "../chain/compile_api.ts";
import { loadApiDefinitions } from "../config/app_loader.ts";
import type { PolicyMap } from "../config/policy.ts";
import { loadPolicies } from "../config/policy_loader.ts";
import type { ApiSet } from "./api_set.ts";
import { assignListenPaths } from "./listen_paths.ts";
import { Router } from "./router.ts";

/** What one reload did. */
export interface ReloadReport {
  /** api_ids now served. */
  loaded: string[];
  /** Files that failed, with the reason (their last good version, if any, is still served). */
  errors: { file: string; message: string }[];
}

/** How often a reload reads the files again because they changed while it read them, before it gives up. */
const MAX_READS = 5;

/** What one pass over the files produced, before anything is swapped in. */
interface FilesRead {
  policies: Awaited<ReturnType<typeof loadPolicies>>;
  /** The handles to serve: newly compiled ones, and `reused` ones of the current set. */
  next: ApiHandle[];
  reused: Set<ApiHandle>;
  errors: { file: string; message: string }[];
}

/** APIs whose plugin files are read at once: a thousand APIs' reads, one after another, wait on each other. */
const READ_WIDTH = 32;

/** Runs `tasks`, `READ_WIDTH` at a time, and resolves with their results in order. */
async function inParallel<T>(tasks: (() => Promise<T>)[]): Promise<T[]> {
  const out = new Array<T>(tasks.length);
  let next = 0;
  const lane = async () => {
    while (next < tasks.length) {
      const i = next++;
      out[i] = await tasks[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(READ_WIDTH, tasks.length) }, lane));
  return out;
}

/** Owns the current ApiSet and rebuilds it on demand. */
export class ApiReloader {
  readonly #services: GatewayServices;
  readonly #strictRoutes: boolean;
  #current: ApiSet;
  #running: Promise<ReloadReport> | null = null;
  #queued: Promise<ReloadReport> | null = null;
  #succeeded = false;
  #policies: PolicyMap = new Map();
  #fileChanges: () => number = () => 0;

  constructor(services: GatewayServices) {
    this.#services = services;
    this.#strictRoutes = services.config.http_server_options.enable_strict_routes;
    this.#current = { router: new Router<ApiHandle>([]), byId: new Map() };
    services.policies = this.policies;
  }

  /** The policies loaded by the last reload; files written since are served after the next one. */
  policies = (): PolicyMap => this.#policies;

  /**
   * Follows the changes seen under app_path and middleware_path (the file watcher's count): a reload during
   * which the count moves reads the files again before it swaps anything in.
   */
  followFileChanges(count: () => number): void {
    this.#fileChanges = count;
  }

  /** The set new requests are routed with. */
  current = (): ApiSet => this.#current;

  /** True once a reload has completed. */
  get succeeded(): boolean {
    return this.#succeeded;
  }

  /** Queues a reload; calls during a running reload share the one queued after it. */
  reload(): Promise<ReloadReport> {
    if (!this.#running) {
      this.#running = this.#run().finally(() => (this.#running = null));
      return this.#running;
    }
    this.#queued ??= this.#running.catch(() => undefined).then(() => {
      this.#queued = null;
      return this.reload();
    });
    return this.#queued;
  }

  /** Closes every API's sandboxes. */
  async close(): Promise<void> {
    await this.#running?.catch(() => undefined);
    await Promise.all(this.#current.router.apis.map((api) => api.close()));
  }

  async #readUserLibrary(): Promise<{ file: string; code: string } | undefined> {
    const file = this.#services.config.tyk_js_path;
    if (!file) return undefined;
    try {
      return { file, code: await Deno.readTextFile(file) };
    } catch (err) {
      this.#services.log.warn("Cannot read tyk_js_path, continuing without it", { file, error: String(err) });
      return undefined;
    }
  }

  /** Reads policies, definitions, the user library and plugin files, compiling every API that needs it. */
  async #read(previousByFile: Map<string, ApiHandle>): Promise<FilesRead> {
    const { config } = this.#services;
    const policies = await loadPolicies(config.policies);
    const { apis, errors } = await loadApiDefinitions(config.app_path, { secrets: config.secrets });
    this.#services.userLibrary = config.enable_jsvm ? await this.#readUserLibrary() : undefined;
    const next: ApiHandle[] = [];
    const reused = new Set<ApiHandle>();
    const starting: Promise<void>[] = [];
    const jsSources = await inParallel(apis.map(({ def }) => () => readJsSources(def, this.#services)));
    for (const [i, { file, def }] of apis.entries()) {
      const old = previousByFile.get(file);
      const js = jsSources[i];
      if (old && canReuse(old, def, js)) {
        old.reportLoadIssues();
        next.push(old);
        reused.add(old);
        continue;
      }
      try {
        const api = await compileApi(file, def, this.#services, js);
        next.push(api);
        // An API in use gets its new sandbox started before the swap, so its requests do not wait for one
        if (old?.jsRunning) starting.push(api.startJs());
      } catch (err) {
        errors.push({ file, message: `Cannot load API "${def.api_id}": ${(err as Error).message}` });
      }
    }
    await Promise.all(starting);
    return { policies, next, reused, errors };
  }

  async #run(): Promise<ReloadReport> {
    const { log } = this.#services;
    const previous = this.#current;
    const previousByFile = new Map(previous.router.apis.map((api) => [api.file, api]));
    let read: FilesRead;
    for (let attempt = 1;; attempt++) {
      const changes = this.#fileChanges();
      read = await this.#read(previousByFile);
      if (attempt === MAX_READS || this.#fileChanges() === changes) break;
      // A watched file changed while the files were read: one caught half-written (an editor truncates, then
      // writes) would be served broken until the next reload, so nothing read now is swapped in
      log.debug("Files changed while the reload read them; reading them again", { attempt });
      for (const api of read.next) if (!read.reused.has(api)) void api.close();
    }
    const { next, reused, errors, policies } = read;
    for (const error of policies.errors) log.error(error.message, { file: error.file });
    this.#policies = policies.policies;
    for (const error of errors) {
      const old = previousByFile.get(error.file);
      if (old && !next.some((api) => api.apiId === old.apiId)) {
        next.push(old);
        reused.add(old);
        log.error(`${error.message}; still serving its last good version`, {
          file: error.file,
          api_id: old.apiId,
        });
      } else {
        log.error(error.message, { file: error.file });
      }
    }

    const { apis: served, moves } = assignListenPaths(next, previous.router.apis);
    for (const move of moves) {
      const owner = move.keptBy === null ? "" : ` (API "${move.keptBy}" keeps it)`;
      log.error(
        `Listen path ${move.from} is used by more than one API${owner}; API "${move.apiId}" now listens on ${move.to}`,
        {
          api_id: move.apiId,
        },
      );
    }
    const byId = new Map(served.map((api) => [api.apiId, api]));
    this.#current = { router: new Router(served, { strictRoutes: this.#strictRoutes }), byId };
    this.#succeeded = true;
    let pluginErrors = 0;
    for (const api of served) {
      if (api.pluginErrors.length === 0) continue;
      pluginErrors += api.pluginErrors.length;
      const files = [...new Set(api.pluginErrors.map((issue) => issue.file))].join(", ");
      log.warn(
        `API "${api.apiId}" serves with ${api.pluginErrors.length} plugin load failure(s); requests that reach ` +
          `them answer 500 (GET /tyk/apis/${api.apiId}/status lists them)`,
        { api_id: api.apiId, files },
      );
    }
    log.info("API reload complete", {
      apis: next.length,
      policies: this.#policies.size,
      errors: errors.length + policies.errors.length,
      plugin_errors: pluginErrors,
    });
    // Requests routed before the swap still hold the old handles; close() waits for their sandbox calls
    for (const api of previous.router.apis) if (!reused.has(api)) api.close();
    return { loaded: [...byId.keys()], errors };
  }
}
