/**
 * Collects an API's JS request hooks from its definition (`custom_middleware`) and from the directory
 * loader (`<middleware_path>/<api_id>/{pre,auth,post_auth,post}/*.js`), reading every file from disk on
 * each call so a reload serves edited plugins (unlike Tyk; see docs/differences.md).
 */
import { extname, join, resolve } from "node:path";
import type { ApiDefinition } from "../../config/api_definition.ts";
import type { Logger } from "../../log.ts";
import { decodeBase64 } from "../../jsvm/go/base64.ts";
import type { LoadIssue, PluginSource } from "../../jsvm/host/sandbox_pool.ts";

/** One hook to call: the global the plugin defines, whether it gets the live session, and its file. */
export interface HookEntry {
  name: string;
  /** `require_session`; honoured by post_key_auth and post hooks only. */
  requireSession: boolean;
  /** The file the name comes from (real path or `__inline__/…`), for log lines. */
  source: string;
}

/** An API's JS hooks in chain order. */
export interface PluginHooks {
  pre: HookEntry[];
  authCheck: HookEntry | null;
  postKeyAuth: HookEntry[];
  post: HookEntry[];
  /** `custom_middleware.response`: run on the response (the directory loader has no folder for them). */
  response: HookEntry[];
}

/** What {@link collectPlugins} found. */
export interface CollectedPlugins {
  driver: "otto" | "javascript";
  hooks: PluginHooks;
  /** Files to evaluate in the sandbox, in otto's load order; unreadable files are left out. */
  sources: PluginSource[];
  /** Files that could not be read; their hooks stay installed and answer 500, as in Tyk. */
  issues: LoadIssue[];
}

/** Where plugins are found. */
export interface CollectPluginsOptions {
  /** The directory loader's root (`middleware_path`). */
  middlewarePath: string;
  /** Relative plugin paths resolve against this folder. */
  baseDir: string;
  log: Logger;
}

type MiddlewareEntry = ApiDefinition["custom_middleware"]["pre"][number];
type HookKind = "pre" | "auth_check" | "post_key_auth" | "post" | "response";

/** A hook before its file is read: where it came from and where its code is. */
interface PendingHook {
  hook: HookKind;
  name: string;
  requireSession: boolean;
  /** Definition field for messages, e.g. `custom_middleware.pre[0]`; `""` for directory files. */
  field: string;
  file: string;
  /** Inline source (already decoded), or `null` to read `file`. */
  inline: string | null;
}

const JS_DRIVERS = new Set(["otto", "javascript"]);
/** Directory-loader folder → hook. */
const FOLDERS = [
  ["pre", "pre"],
  ["auth", "auth_check"],
  ["post_auth", "post_key_auth"],
  ["post", "post"],
] as const;
const DECODER = new TextDecoder();

function definitionHook(
  hook: HookKind,
  index: number | null,
  entry: MiddlewareEntry,
  apiId: string,
  options: CollectPluginsOptions,
  issues: LoadIssue[],
): PendingHook {
  const field = index === null ? `custom_middleware.${hook}` : `custom_middleware.${hook}[${index}]`;
  const base = { hook, name: entry.name, requireSession: entry.require_session, field };
  if (entry.code !== "" || entry.path === "") {
    const file = `__inline__/${apiId}/${hook}/${index ?? 0}/${entry.name}`;
    if (entry.code === "") {
      issues.push({ file, message: `Cannot load ${field}: neither path nor code is set` });
      return { ...base, file, inline: null };
    }
    const bytes = decodeBase64(entry.code);
    if (bytes === null) issues.push({ file, message: `Cannot load ${field}.code: not valid base64` });
    return { ...base, file, inline: bytes === null ? null : DECODER.decode(bytes) };
  }
  return { ...base, file: resolve(options.baseDir, entry.path), inline: null };
}

/** Lists `<dir>/*.js` in lexical order, as Go's `filepath.Glob` does; a missing folder lists nothing. */
async function listScripts(dir: string, issues: LoadIssue[]): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const item of Deno.readDir(dir)) if (item.name.endsWith(".js")) names.push(item.name);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) {
      issues.push({ file: dir, message: `Cannot list plugin folder: ${(err as Error).message}` });
    }
  }
  return names.sort();
}

/** Where the directory loader looks. */
type DirectoryOptions = Pick<CollectPluginsOptions, "middlewarePath" | "baseDir">;

async function directoryHooks(apiId: string, options: DirectoryOptions, issues: LoadIssue[]) {
  const root = join(resolve(options.baseDir, options.middlewarePath), apiId);
  const found: PendingHook[] = [];
  try {
    await Deno.stat(root);
  } catch (err) {
    // most APIs have no folder here: one look, not one per hook folder (a reload looks for every API)
    if (err instanceof Deno.errors.NotFound) return found;
  }
  for (const [folder, hook] of FOLDERS) {
    for (const fileName of await listScripts(join(root, folder), issues)) {
      const name = fileName.slice(0, fileName.indexOf("."));
      const requireSession = (hook === "post" || hook === "post_key_auth") && name.endsWith("_with_session");
      found.push({ hook, name, requireSession, field: "", file: join(root, folder, fileName), inline: null });
    }
  }
  return found;
}

function describe(pending: PendingHook): string {
  return pending.field === "" ? "directory loader" : `${pending.field}.path`;
}

async function readSources(
  pending: PendingHook[],
  driver: string,
  issues: LoadIssue[],
): Promise<PluginSource[]> {
  const byFile = new Map<string, PluginSource>();
  const failed = new Set<string>();
  for (const hook of pending) {
    if (hook.name === "") {
      issues.push({ file: hook.file, message: `Cannot call ${hook.field || hook.file}: name is empty` });
    }
    const known = byFile.get(hook.file);
    if (known) {
      if (!known.names.includes(hook.name)) known.names.push(hook.name);
      continue;
    }
    if (failed.has(hook.file)) continue;
    let code = hook.inline;
    if (code === null && !hook.file.startsWith("__inline__/")) {
      if (driver === "otto" && !extname(hook.file).includes(".js")) {
        issues.push({
          file: hook.file,
          message: `Cannot load ${describe(hook)}: the otto driver loads only .js files`,
        });
      } else {
        try {
          code = await Deno.readTextFile(hook.file);
        } catch (err) {
          const reason = err instanceof Deno.errors.NotFound ? "no such file" : (err as Error).message;
          issues.push({ file: hook.file, message: `Cannot read ${describe(hook)}: ${reason}` });
        }
      }
    }
    if (code === null) {
      failed.add(hook.file);
      continue;
    }
    byFile.set(hook.file, { file: hook.file, code, names: [hook.name], kind: "middleware" });
  }
  // inline entries come after every file, as goja loads them
  const sources = [...byFile.values()];
  return [
    ...sources.filter((s) => !s.file.startsWith("__inline__/")),
    ...sources.filter((s) => s.file.startsWith("__inline__/")),
  ];
}

function toEntry(pending: PendingHook): HookEntry {
  return { name: pending.name, requireSession: pending.requireSession, source: pending.file };
}

/**
 * Collects an API's JS request hooks as Tyk's `loadCustomMiddleware` does: definition entries (disabled
 * ones skipped, inline `code` before `path`), then the directory loader (pre/post files after the
 * definition's, post_auth files before, the last auth file replacing auth_check). A missing driver runs
 * JS as otto with a warning (see docs/differences.md); a non-JS driver (python, grpc, lua, goplugin)
 * leaves JS out, with a warning.
 * @example
 * const { hooks, sources, issues } = await collectPlugins(def, { middlewarePath, baseDir, log });
 */
export async function collectPlugins(
  def: ApiDefinition,
  options: CollectPluginsOptions,
): Promise<CollectedPlugins> {
  const cm = def.custom_middleware;
  const apiId = def.api_id;
  const issues: LoadIssue[] = [];
  const fromDefinition = (hook: HookKind, list: MiddlewareEntry[]) =>
    list.flatMap((entry, i) =>
      entry.disabled ? [] : [definitionHook(hook, i, entry, apiId, options, issues)]
    );
  const pre = fromDefinition("pre", cm.pre);
  const postKeyAuth = fromDefinition("post_key_auth", cm.post_key_auth);
  const post = fromDefinition("post", cm.post);
  const response = fromDefinition("response", cm.response);
  const authEnabled = def.custom_plugin_auth_enabled || def.enable_coprocess_auth || def.use_go_plugin_auth;
  const auth = cm.auth_check;
  let authCheck = authEnabled && !auth.disabled && (auth.name !== "" || auth.path !== "" || auth.code !== "")
    ? definitionHook("auth_check", null, auth, apiId, options, issues)
    : null;

  const dir = await directoryHooks(apiId, options, issues);
  for (const found of dir) if (found.hook === "auth_check" && authEnabled) authCheck = found;
  const ofKind = (hook: HookKind) => dir.filter((found) => found.hook === hook);
  const hooks = {
    pre: [...pre, ...ofKind("pre")],
    postKeyAuth: [...ofKind("post_key_auth"), ...postKeyAuth],
    post: [...post, ...ofKind("post")],
  };
  const all = [
    ...hooks.pre,
    ...(authCheck ? [authCheck] : []),
    ...hooks.postKeyAuth,
    ...hooks.post,
    ...response,
  ];
  const none: CollectedPlugins = {
    driver: "otto",
    hooks: { pre: [], authCheck: null, postKeyAuth: [], post: [], response: [] },
    sources: [],
    issues: [],
  };
  if (all.length === 0) return none;

  const files = [...new Set(all.map((p) => p.file))].join(", ");
  let driver = cm.driver;
  if (driver === "") {
    options.log.warn(
      `API "${apiId}": custom_middleware.driver is not set; running ${files} with the otto driver`,
      {
        api_id: apiId,
      },
    );
    driver = "otto";
  } else if (!JS_DRIVERS.has(driver)) {
    options.log.warn(
      `API "${apiId}": custom_middleware.driver is "${driver}", not a JS driver; skipping ${files}`,
      {
        api_id: apiId,
      },
    );
    return none;
  }

  // otto's load order: auth_check, pre, post, directory files, post_key_auth, response
  const loadOrder = [
    ...(authCheck && authCheck.field !== "" ? [authCheck] : []),
    ...pre,
    ...post,
    ...dir.filter((found) => found.hook !== "auth_check" || found === authCheck),
    ...postKeyAuth,
    ...response,
  ];
  const sources = await readSources(loadOrder, driver, issues);
  return {
    driver: driver as "otto" | "javascript",
    hooks: {
      pre: hooks.pre.map(toEntry),
      authCheck: authCheck ? toEntry(authCheck) : null,
      postKeyAuth: hooks.postKeyAuth.map(toEntry),
      post: hooks.post.map(toEntry),
      response: response.map(toEntry),
    },
    sources,
    issues,
  };
}

function mentions(code: string, identifier: string): boolean {
  const escaped = identifier.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`(^|[^\\w$])${escaped}(?![\\w$])`).test(code);
}

/**
 * Hooks whose name no source can define, reported at load rather than by a 500 on every request: Tyk calls
 * `<name>.DoProcessRequest` (a misspelt name, or a file that defines another). A name counts as defined when
 * its first identifier appears in the hook's own file (driver `javascript`, where files cannot see each
 * other) or in any of the API's files (otto's one scope), or in the `tyk_js_path` library. Hooks whose file could
 * not be read are left out: their file is reported already.
 * @param library the `tyk_js_path` code, when there is one
 */
export function undefinedNames(
  collected: Pick<CollectedPlugins, "driver" | "hooks" | "sources">,
  library?: string,
): LoadIssue[] {
  const { driver, hooks, sources } = collected;
  const byFile = new Map(sources.map((source) => [source.file, source.code]));
  const shared = [...sources.map((source) => source.code), library ?? ""];
  const issues: LoadIssue[] = [];
  const entries = [
    ...hooks.pre,
    ...(hooks.authCheck ? [hooks.authCheck] : []),
    ...hooks.postKeyAuth,
    ...hooks.post,
    ...hooks.response,
  ];
  for (const entry of entries) {
    const own = byFile.get(entry.source);
    if (own === undefined || entry.name === "") continue;
    const root = entry.name.split(".")[0];
    const scope = driver === "javascript" ? [own, library ?? ""] : shared;
    if (scope.some((code) => mentions(code, root))) continue;
    issues.push({
      file: entry.source,
      message: `Cannot find "${entry.name}": ${entry.source} does not define it, so its hook answers 500`,
    });
  }
  return issues;
}
