/**
 * The chain steps that run an API's JS request hooks (pre, auth_check, post_key_auth, post) in its sandbox
 * pool: describe the request, have the sandbox call `<name>.DoProcessRequest(request, session, spec)` and
 * turn the result into edits, then apply them (Tyk's `gateway/mw_js_plugin.go`).
 */
import { forcedResponse } from "./forced_response.ts";
import type { HookEntry } from "./plugin_loader.ts";
import { applyHookEdits, type HookDecision, parseHookEdits, parseHookRun } from "./hook_edits.ts";
import { hookRequest } from "./hook_request.ts";
import { writeBackMeta } from "./session_meta.ts";
import type { HookEdits, HookRun, RunHook } from "../../jsvm/protocol.ts";
import { handlerAlias, JsvmError, type SandboxPool } from "../../jsvm/host/sandbox_pool.ts";
import { emptySession, parseSession, serializeSession, type Session } from "../../keys/session.ts";
import type { LogFields, Logger } from "../../log.ts";
import { Forced, readBody, type RequestCtx, type Step, type StepResult } from "../context.ts";
import { GatewayError, MESSAGES } from "../errors.ts";

/** Which request hook list a step runs. */
export type RequestHookKind = "pre" | "auth_check" | "post_key_auth" | "post";

/** What the hooks of one API need to know about it, resolved once at load. */
export interface JsHookApi {
  apiId: string;
  orgId: string;
  /** The sandbox driver: `javascript` dispatches to each file's alias, `otto` to the global name. */
  driver: "otto" | "javascript";
  /** `config_data`, handed to plugins as `spec.config_data`. */
  configData: unknown;
  /** `config_data_disabled`: `spec.config_data` is then absent. */
  configDataDisabled: boolean;
  /** `ignore_canonical_mime_header_key` from tyk.conf. */
  ignoreCanonical: boolean;
}

/** Shared by every hook call of one step. */
interface HookContext {
  kind: RequestHookKind;
  pool: SandboxPool;
  api: JsHookApi;
  spec: string;
  log: Logger;
}

/** A hook that ran and whose result was applied up to ReturnOverrides. */
interface HookOutcome {
  edits: HookEdits;
  decision: HookDecision;
  /** The returned `Session`, parsed (auth_check reads it); `null` when the plugin returned none. */
  session: Session | null;
}

const INTERNAL = new GatewayError(500, MESSAGES.internal);
const SESSION_MISSING = new GatewayError(400, MESSAGES.sessionMissing);
const EMPTY_SESSION_JSON = "{}";

/** Go's `json.Marshal` of a `map[string]interface{}`: object keys sorted at every level. */
function sortedJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(sortedJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value).sort();
    return `{${
      keys.map((k) => `${JSON.stringify(k)}:${sortedJson((value as Record<string, unknown>)[k])}`).join(",")
    }}`;
  }
  return JSON.stringify(value) ?? "null";
}

/**
 * The third argument of every request hook: `{"APIID","OrgID","config_data"}`, keys sorted,
 * `config_data` absent when disabled and `null` when the API has none.
 */
export function buildSpecArgument(api: JsHookApi): string {
  const head = `{"APIID":${JSON.stringify(api.apiId)},"OrgID":${JSON.stringify(api.orgId)}`;
  return api.configDataDisabled ? `${head}}` : `${head},"config_data":${sortedJson(api.configData ?? null)}}`;
}

function fieldsOf(hook: HookContext, entry: HookEntry, ctx: RequestCtx): LogFields {
  return { api_id: hook.api.apiId, hook: hook.kind, plugin: entry.name, path: ctx.path };
}

function logFailure(hook: HookContext, entry: HookEntry, ctx: RequestCtx, err: unknown): GatewayError {
  const fields = fieldsOf(hook, entry, ctx);
  if (err instanceof JsvmError && err.kind !== "decode") {
    const at = err.file ? `${err.file}${err.line ? `:${err.line}` : ""}` : entry.source;
    hook.log.error("Failed to run JS middleware", { ...fields, kind: err.kind, error: err.message, at });
  } else {
    hook.log.error("Failed to decode middleware request data on return from VM", {
      ...fields,
      kind: "decode",
      error: err instanceof Error ? err.message : String(err),
      at: entry.source,
    });
  }
  return INTERNAL;
}

/** The session argument: the live session for post and post_key_auth hooks that require it, else `{}`. */
function sessionArgument(kind: RequestHookKind, entry: HookEntry, ctx: RequestCtx): string {
  if ((kind !== "post" && kind !== "post_key_auth") || !entry.requireSession) return EMPTY_SESSION_JSON;
  return ctx.session ? serializeSession(ctx.session) : "null";
}

/** The name the pool calls: under `javascript` each file's names live under a per-file alias. */
function callTarget(api: JsHookApi, entry: HookEntry): string {
  return api.driver === "javascript" ? handlerAlias(entry.source, entry.name) : entry.name;
}

/** The buffered body for a hook call, or the GatewayError to answer with when it cannot be read. */
async function hookBody(
  hook: HookContext,
  entry: HookEntry,
  ctx: RequestCtx,
): Promise<Uint8Array | GatewayError> {
  try {
    return await readBody(ctx);
  } catch (err) {
    if (err instanceof GatewayError) return err; // over the body limits: 413 or 503, not a plugin failure
    hook.log.error("Cannot run JS middleware: the request body cannot be read", {
      ...fieldsOf(hook, entry, ctx),
      error: (err as Error).message,
    });
    return INTERNAL;
  }
}

/** Decodes a hook's edits and applies the request edits; a GatewayError when that failed. */
function takeEdits(
  hook: HookContext,
  entry: HookEntry,
  ctx: RequestCtx,
  edits: HookEdits,
  body: Uint8Array,
): HookOutcome | GatewayError {
  let session: Session | null = null;
  try {
    // Go decodes Session as a typed SessionState for every hook, so a mistyped one fails any hook
    if (edits.session !== null) session = parseSession(edits.session);
  } catch (err) {
    return logFailure(hook, entry, ctx, err);
  }
  const decision = applyHookEdits(ctx, edits, body, { log: hook.log, logFields: fieldsOf(hook, entry, ctx) });
  return { edits, decision, session };
}

/** Runs one hook: call, decode, apply the request edits; a GatewayError when any of it failed. */
async function runHook(
  hook: HookContext,
  entry: HookEntry,
  target: string,
  ctx: RequestCtx,
): Promise<HookOutcome | GatewayError> {
  const body = await hookBody(hook, entry, ctx);
  if (body instanceof GatewayError) return body;
  let edits: HookEdits;
  try {
    edits = parseHookEdits(
      await hook.pool.callHook(
        target,
        hookRequest(ctx, body, hook.api.ignoreCanonical),
        sessionArgument(hook.kind, entry, ctx),
        hook.spec,
      ),
    );
  } catch (err) {
    return logFailure(hook, entry, ctx, err);
  }
  return takeEdits(hook, entry, ctx, edits, body);
}

/** Turns a ReturnOverrides decision into the step's answer; `undefined` to go on. */
function answer(decision: HookDecision, hook: HookContext, entry: HookEntry, ctx: RequestCtx): StepResult {
  switch (decision.kind) {
    case "continue":
    case "ignored":
      return undefined;
    case "error":
      if (decision.status > 599) {
        hook.log.error(
          `Cannot answer with ReturnOverrides.ResponseCode ${decision.status}: it must be below 600`,
          {
            ...fieldsOf(hook, entry, ctx),
          },
        );
        return INTERNAL;
      }
      return new GatewayError(decision.status, decision.message, { headers: decision.headers });
    case "respond":
      try {
        const response = forcedResponse(decision.status, decision.body, decision.headers, {
          log: hook.log,
          logFields: fieldsOf(hook, entry, ctx),
        });
        // Tyk runs the response chain on a post or post_key_auth hook's answer, not on a pre or auth hook's
        return hook.kind === "post" || hook.kind === "post_key_auth" ? new Forced(response) : response;
      } catch (err) {
        hook.log.error((err as Error).message, fieldsOf(hook, entry, ctx));
        return INTERNAL;
      }
  }
}

/** A stage's hooks for `createJsHookRunStep`. */
export interface HookStage {
  kind: RequestHookKind;
  entries: HookEntry[];
  /** auth_check: install the session it returns (see `JsAuthCheckOptions`). @default true */
  installSession?: boolean;
}

/** One hook of a step, resolved at load. */
interface StepHook {
  hook: HookContext;
  entry: HookEntry;
  target: string;
  /** Its session argument is the request's session. */
  readsSession: boolean;
  /** Its SessionMeta is written back to the request's session. */
  writesMeta: boolean;
  /** An auth_check hook: whether it installs the session it returns; `null` for other hooks. */
  auth: { installSession: boolean } | null;
}

/** Options of a JS request hook step. */
export interface JsHookStepOptions {
  /**
   * Call hooks that follow each other in one sandbox round trip (`SandboxPool.callHooks`), with the
   * result separate calls would give. @default true
   */
  fuse?: boolean;
}

/**
 * The end of the hooks, from `from`, that can go in one call: a hook that reads the session may not follow
 * one that can change it in the same call, since its session argument is written before the call.
 */
function runEnd(hooks: StepHook[], from: number, ctx: RequestCtx): number {
  let changes = false;
  for (let i = from; i < hooks.length; i++) {
    if (hooks[i].readsSession && changes) return i;
    if (hooks[i].auth !== null || (hooks[i].writesMeta && ctx.session)) changes = true;
  }
  return hooks.length;
}

/**
 * What one hook's outcome does to the chain: `undefined` to go on with the next hook, else the step's
 * answer (Tyk's `gateway/mw_js_plugin.go` order: edits, session meta data, then ReturnOverrides).
 */
function afterHook(one: StepHook, outcome: HookOutcome, ctx: RequestCtx): StepResult {
  // Tyk's auth_check returns before installing a session; its key-expiry check then rejects the request
  if (outcome.decision.kind === "ignored") return one.auth ? SESSION_MISSING : undefined;
  if (one.writesMeta && ctx.session) writeBackMeta(ctx, outcome.edits.sessionMeta);
  const out = answer(outcome.decision, one.hook, one.entry, ctx);
  if (out !== undefined || !one.auth?.installSession) return out;
  ctx.session = outcome.session ?? emptySession();
  ctx.sessionKey = outcome.edits.authValue;
  ctx.sessionModified = true;
  return undefined;
}

/**
 * Builds the step running an API's `pre`, `post_key_auth` or `post` hooks in order; `null` when there
 * are none. Each hook sees the previous hooks' edits; the first that answers (ReturnOverrides) or fails
 * (500) ends the chain.
 * @example
 * const pre = createJsHookStep("pre", hooks.pre, pool, api, log);
 */
export function createJsHookStep(
  kind: "pre" | "post_key_auth" | "post",
  entries: HookEntry[],
  pool: SandboxPool,
  api: JsHookApi,
  log: Logger,
  options: JsHookStepOptions = {},
): Step | null {
  return createJsHookRunStep([{ kind, entries }], pool, api, log, options);
}

/**
 * Builds the step running the hooks of several stages that nothing stands between in the chain (`pre`
 * then `post` on a keyless API without limits, version checks, virtual endpoints or rewrites; a JS
 * `auth_check` then `post_key_auth` when no other auth runs) as one step; `null` when there are none.
 * The auth_check hook is skipped on endpoints marked `ignored`, as its own step is. Hooks that follow each other go to the sandbox in one call, which
 * returns each hook's edits; the step applies them one by one as if each hook had been called alone.
 * @example
 * const prePost = createJsHookRunStep([{ kind: "pre", entries: hooks.pre }, { kind: "post", entries: hooks.post }], pool, api, log);
 */
export function createJsHookRunStep(
  stages: HookStage[],
  pool: SandboxPool,
  api: JsHookApi,
  log: Logger,
  options: JsHookStepOptions = {},
): Step | null {
  const spec = buildSpecArgument(api);
  const hooks: StepHook[] = [];
  for (const { kind, entries, installSession } of stages) {
    const hook: HookContext = { kind, pool, api, spec, log };
    const auth = kind === "auth_check" ? { installSession: installSession ?? true } : null;
    for (const entry of entries) {
      const session = (kind === "post" || kind === "post_key_auth") && entry.requireSession;
      hooks.push({
        hook,
        entry,
        target: callTarget(api, entry),
        readsSession: session,
        writesMeta: session,
        auth,
      });
    }
  }
  if (hooks.length === 0) return null;
  const fuse = options.fuse ?? true;

  /** Calls hooks `from` up to `end` in one round trip; the index of the next hook, or the step's answer. */
  async function runTogether(ctx: RequestCtx, from: number, end: number): Promise<number | StepResult> {
    const first = hooks[from];
    let body = await hookBody(first.hook, first.entry, ctx);
    if (body instanceof GatewayError) return body;
    const calls: RunHook[] = [];
    for (let i = from; i < end; i++) {
      const session = sessionArgument(hooks[i].hook.kind, hooks[i].entry, ctx);
      // an auth_check that leaves the request ignored ends the step (see afterHook)
      calls.push(hooks[i].auth ? [hooks[i].target, session, true] : [hooks[i].target, session]);
    }
    let run: HookRun;
    try {
      run = parseHookRun(await pool.callHooks(calls, hookRequest(ctx, body, api.ignoreCanonical), spec));
      const answered = run.edits.length + (run.failure === null ? 0 : 1);
      if (answered === 0 || answered > calls.length) {
        throw new Error(`The JS sandbox answered for ${answered} of ${calls.length} hooks`);
      }
    } catch (err) {
      return logFailure(first.hook, first.entry, ctx, err);
    }
    let i = from;
    for (const edits of run.edits) {
      const one = hooks[i++];
      const outcome = takeEdits(one.hook, one.entry, ctx, edits, body);
      if (outcome instanceof GatewayError) return outcome;
      const out = afterHook(one, outcome, ctx);
      if (out !== undefined) return out;
      body = ctx.body instanceof Uint8Array ? ctx.body : body;
    }
    if (run.failure !== null) {
      const { kind, message, file, line } = run.failure;
      return logFailure(hooks[i].hook, hooks[i].entry, ctx, new JsvmError(kind, message, { file, line }));
    }
    return i;
  }

  return async function jsRequestHooks(ctx) {
    let i = 0;
    while (i < hooks.length) {
      if (hooks[i].auth && ctx.ignored) {
        i++;
        continue;
      }
      const end = fuse ? runEnd(hooks, i, ctx) : i + 1;
      if (end - i > 1) {
        const next = await runTogether(ctx, i, end);
        if (typeof next !== "number") return next;
        i = next;
        continue;
      }
      const one = hooks[i++];
      const outcome = await runHook(one.hook, one.entry, one.target, ctx);
      if (outcome instanceof GatewayError) return outcome;
      const out = afterHook(one, outcome, ctx);
      if (out !== undefined) return out;
    }
    return undefined;
  };
}

/** Options of the JS auth_check step. */
export interface JsAuthCheckOptions {
  /**
   * Install the returned session as the request's (base_identity_provided_by unset or `custom_auth`);
   * otherwise another auth method provides the identity. @default true
   */
  installSession?: boolean;
}

/**
 * Builds the JS custom-auth step: the plugin accepts by returning a `Session` and
 * `AuthValue` (the key id), which become the request's session and key, stored after the chain; it
 * rejects through ReturnOverrides. Skipped on endpoints marked `ignored`.
 * @example
 * const auth = createJsAuthCheckStep(hooks.authCheck, pool, api, log, { installSession: true });
 */
export function createJsAuthCheckStep(
  entry: HookEntry,
  pool: SandboxPool,
  api: JsHookApi,
  log: Logger,
  options: JsAuthCheckOptions = {},
): Step {
  const hook: HookContext = { kind: "auth_check", pool, api, spec: buildSpecArgument(api), log };
  const installSession = options.installSession ?? true;
  const target = callTarget(api, entry);
  return async function jsAuthCheck(ctx) {
    if (ctx.ignored) return undefined;
    const outcome = await runHook(hook, entry, target, ctx);
    if (outcome instanceof GatewayError) return outcome;
    // Tyk returns before installing a session; its key-expiry check then rejects the request
    if (outcome.decision.kind === "ignored") return SESSION_MISSING;
    const out = answer(outcome.decision, hook, entry, ctx);
    if (out !== undefined) return out;
    if (installSession) {
      ctx.session = outcome.session ?? emptySession();
      ctx.sessionKey = outcome.edits.authValue;
      ctx.sessionModified = true;
    }
    return undefined;
  };
}
