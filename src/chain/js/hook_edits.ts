/**
 * The gateway's end of a request hook's answer: the `HookEdits` a sandbox sends back, validated here at the
 * edge like every other input, and applied to the request as Tyk's `gateway/mw_js_plugin.go` does.
 * Decoding the plugin's result like Go happens in the sandbox (`jsvm/sandbox/request_hook.ts`), off this
 * thread.
 */
import type { RequestCtx } from "../context.ts";
import type { LogFields, Logger } from "../../log.ts";
import { decodeBase64 } from "../../jsvm/go/base64.ts";
import type { HookDecision, HookEdits, HookRun } from "../../jsvm/protocol.ts";

export type { HookDecision } from "../../jsvm/protocol.ts";

/** How edits are applied for one API. */
export interface ApplyOptions {
  log: Logger;
  /** Fields for log lines about this hook (api_id, hook, plugin). */
  logFields: LogFields;
}

const EMPTY = new Uint8Array(0);

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isStrings(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}

function isStringMap(value: unknown): value is Record<string, string> {
  if (!isObject(value)) return false;
  for (const key in value) if (typeof value[key] !== "string") return false;
  return true;
}

function isNullableString(value: unknown): value is string | null {
  return value === null || typeof value === "string";
}

function isDecision(value: unknown): value is HookDecision {
  if (!isObject(value)) return false;
  switch (value.kind) {
    case "continue":
    case "ignored":
      return true;
    case "error":
      return Number.isInteger(value.status) && typeof value.message === "string" &&
        isStringMap(value.headers);
    case "respond":
      return Number.isInteger(value.status) && typeof value.body === "string" && isStringMap(value.headers);
    default:
      return false;
  }
}

/** Checked by hand rather than with zod: a schema costs ~4 µs here, on every hook, on the gateway's thread. */
function isHookEdits(value: unknown): value is HookEdits {
  return isObject(value) &&
    isNullableString(value.body) && isNullableString(value.path) && isNullableString(value.query) &&
    isStrings(value.deleteHeaders) &&
    Array.isArray(value.setHeaders) &&
    value.setHeaders.every((pair) => isStrings(pair) && pair.length === 2) &&
    isDecision(value.decision) && isStrings(value.warnings) &&
    (value.sessionMeta === null || isStringMap(value.sessionMeta)) &&
    isNullableString(value.session) && typeof value.authValue === "string";
}

function isFailure(value: unknown): boolean {
  return isObject(value) && (value.kind === "threw" || value.kind === "missing" || value.kind === "decode") &&
    typeof value.message === "string" && (value.file === undefined || typeof value.file === "string") &&
    (value.line === undefined || typeof value.line === "number");
}

/**
 * Reads the `HookRun` JSON a sandbox answered a run of hooks with.
 * @throws Error when it is not what the protocol says
 */
export function parseHookRun(text: string): HookRun {
  const value: unknown = JSON.parse(text);
  if (
    !isObject(value) || !Array.isArray(value.edits) || !value.edits.every(isHookEdits) ||
    (value.failure !== null && !isFailure(value.failure))
  ) {
    throw new Error("The JS sandbox answered with a malformed run of hooks");
  }
  return value as unknown as HookRun;
}

/**
 * Reads the `HookEdits` JSON a sandbox answered with.
 * @throws Error when it is not what the protocol says (a sandbox is not trusted to be well-behaved)
 */
export function parseHookEdits(text: string): HookEdits {
  const value: unknown = JSON.parse(text);
  if (!isHookEdits(value)) throw new Error("The JS sandbox answered with malformed edits");
  return value;
}

/**
 * Applies a hook's edits to the request in Tyk's order (body, then URL, headers and params) and returns
 * what ReturnOverrides asks for. Writing session meta data back and installing an auth_check's session
 * are the caller's.
 * @param originalBody the bytes the `HookRequest` was built from
 */
export function applyHookEdits(
  ctx: RequestCtx,
  edits: HookEdits,
  originalBody: Uint8Array,
  options: ApplyOptions,
): HookDecision {
  if (edits.body !== null) {
    const body = decodeBase64(edits.body) ?? EMPTY;
    ctx.body = body;
    if (body.length !== originalBody.length && ctx.headers.has("content-length")) {
      ctx.headers.set("content-length", String(body.length));
    }
  }
  for (const warning of edits.warnings) options.log.warn(warning, options.logFields);
  if (edits.decision.kind === "ignored") return edits.decision;
  if (edits.path !== null) ctx.path = edits.path;
  if (edits.query !== null) ctx.query = edits.query;
  for (const name of edits.deleteHeaders) {
    try {
      ctx.headers.delete(name);
      ctx.headerCase?.delete(name.toLowerCase());
    } catch {
      // not a valid header name, so no such header: Go's Del is a no-op too
    }
  }
  for (const [name, value] of edits.setHeaders) {
    try {
      ctx.headers.set(name, value);
      // the upstream gets the name as the hook's result spelled it (canonical unless the ignore option is on)
      (ctx.headerCase ??= new Map()).set(name.toLowerCase(), name);
    } catch {
      options.log.warn(
        `Cannot set header ${JSON.stringify(name)} from a JS hook: invalid name or value`,
        options.logFields,
      );
    }
  }
  return edits.decision;
}
