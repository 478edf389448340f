/**
 * The response step that runs an API's JS response hooks (`custom_middleware.response`) in its sandbox
 * pool, in order, each on the previous one's result: `<name>.DoProcessResponse(response, request, session,
 * spec)`, then Tyk's edits: delete headers, set headers, replace the body (Content-Length follows it),
 * set a non-zero status. Only an API that has response hooks buffers its responses.
 */
import { buildSpecArgument, type JsHookApi } from "./hook_steps.ts";
import { hookRequest } from "./hook_request.ts";
import { forEachHeaderLine } from "./header_lines.ts";
import type { HookEntry } from "./plugin_loader.ts";
import type { HookResponse, ResponseEdits } from "../../jsvm/protocol.ts";
import { handlerAlias, JsvmError, type SandboxPool } from "../../jsvm/host/sandbox_pool.ts";
import { detectContentType } from "../../jsvm/go/http.ts";
import { serializeSession } from "../../keys/session.ts";
import type { Logger } from "../../log.ts";
import type { RequestCtx, ResponseStep } from "../context.ts";
import { GatewayError, MESSAGES } from "../errors.ts";
import { stripListenPath } from "../upstream_url.ts";

/** How an API's response hooks see its requests. */
export interface ResponseHookOptions {
  log: Logger;
  /** `proxy.strip_listen_path`: the request URL hooks see is the one sent upstream, without it. */
  stripListenPath: boolean;
}

const FAILED = new GatewayError(500, MESSAGES.responseMiddlewareError);
const NO_BODY = new Uint8Array(0);
const NULL_BODY_STATUS = new Set([101, 204, 205, 304]);
const ENCODER = new TextEncoder();
const DECODER = new TextDecoder();

function isStrings(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}

/**
 * Reads the `ResponseEdits` JSON a sandbox answered with.
 * @throws Error when it is not what the protocol says (a sandbox is not trusted to be well-behaved)
 */
export function parseResponseEdits(text: string): ResponseEdits {
  const value = JSON.parse(text);
  if (
    typeof value !== "object" || value === null || !Number.isInteger(value.status) ||
    !(value.body === null || typeof value.body === "string") || !isStrings(value.deleteHeaders) ||
    !Array.isArray(value.setHeaders) ||
    !value.setHeaders.every((pair: unknown) => isStrings(pair) && pair.length === 2)
  ) {
    throw new Error("The JS sandbox answered with malformed response edits");
  }
  return value;
}

/**
 * Reads a response body whole, as Tyk does before a response hook. It is held like a request body a step
 * reads: within `max_buffered_body_size`, and counted in `max_buffered_total_size` until the request ends.
 */
async function readAll(
  ctx: RequestCtx,
  body: ReadableStream<Uint8Array> | null,
): Promise<Uint8Array<ArrayBuffer>> {
  if (body === null) return NO_BODY;
  // Deno's and the upstream client's chunks sit on plain ArrayBuffers
  return await ctx.bodyBudget.buffer(body, null, ctx.bodyHold) as Uint8Array<ArrayBuffer>;
}

/** The response as a hook is handed it: one header pair per line the upstream sent. */
function hookResponse(status: number, headers: Headers, received: Headers, body: string): string {
  const lines: string[] = [];
  forEachHeaderLine(headers, received, (name, value) => lines.push(name, value));
  const view: HookResponse = { status, headers: lines, body };
  return JSON.stringify(view);
}

/** Deletes, then sets, the headers a hook asked for; a name or value HTTP cannot carry is skipped. */
function applyHeaders(headers: Headers, edits: ResponseEdits, invalid: () => void): void {
  for (const name of edits.deleteHeaders) {
    try {
      headers.delete(name);
    } catch {
      // not a valid header name, so no such header: Go's Del is a no-op too
    }
  }
  for (const [name, value] of edits.setHeaders) {
    try {
      headers.set(name, value);
    } catch {
      invalid();
    }
  }
}

/**
 * Builds the step running an API's response hooks; `null` when it has none.
 * @example
 * const step = createJsResponseStep(hooks.response, pool, api, { log, stripListenPath: true });
 */
export function createJsResponseStep(
  entries: HookEntry[],
  pool: SandboxPool,
  api: JsHookApi,
  options: ResponseHookOptions,
): ResponseStep | null {
  if (entries.length === 0) return null;
  const { log } = options;
  const spec = buildSpecArgument(api);
  const targets = entries.map((entry) =>
    api.driver === "javascript" ? handlerAlias(entry.source, entry.name) : entry.name
  );

  const fail = (entry: HookEntry | null, ctx: RequestCtx, err: unknown) => {
    log.error("Failed to run JS response middleware", {
      api_id: api.apiId,
      hook: "response",
      plugin: entry?.name,
      path: ctx.path,
      kind: err instanceof JsvmError ? err.kind : "response",
      error: err instanceof Error ? err.message : String(err),
      at: err instanceof JsvmError && err.file
        ? `${err.file}${err.line ? `:${err.line}` : ""}`
        : entry?.source,
    });
    return FAILED;
  };

  return async function jsResponseHooks(ctx, response) {
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = await readAll(ctx, response.body);
    } catch (err) {
      // the buffer budget in use by other requests: the same 503 a request body would get
      if (err instanceof GatewayError && err.status === 503) return err;
      const tooLarge = err instanceof GatewayError && err.status === 413;
      return fail(
        null,
        ctx,
        tooLarge
          ? new RangeError(`Cannot buffer the response body: larger than ${ctx.bodyBudget.maxBodySize} bytes`)
          : err,
      );
    }
    let text = DECODER.decode(bytes);
    let status = response.status;
    const headers = new Headers(response.headers);
    const path = options.stripListenPath ? stripListenPath(ctx.path, ctx.listenPath) : ctx.path;
    const request = hookRequest(ctx, NO_BODY, api.ignoreCanonical, ctx.query ? `${path}?${ctx.query}` : path);
    const session = ctx.session ? serializeSession(ctx.session) : "{}";
    for (let i = 0; i < entries.length; i++) {
      let edits: ResponseEdits;
      try {
        const sent = hookResponse(status, headers, response.headers, text);
        edits = parseResponseEdits(await pool.callResponse(targets[i], sent, request, session, spec));
      } catch (err) {
        return fail(entries[i], ctx, err);
      }
      applyHeaders(
        headers,
        edits,
        () =>
          log.warn("Cannot set a response header from a JS response hook: invalid name or value", {
            api_id: api.apiId,
            plugin: entries[i].name,
          }),
      );
      if (edits.body !== null) {
        text = edits.body;
        bytes = ENCODER.encode(text);
      }
      if (edits.status !== 0) status = edits.status;
    }
    if (!Number.isInteger(status) || status < 200 || status > 599) {
      return fail(entries[entries.length - 1], ctx, new RangeError(`Cannot answer with status ${status}`));
    }
    // the server derives the framing from the body; Go's server sniffs a type the hooks left out
    headers.delete("content-length");
    if (bytes.length > 0 && !headers.has("content-type")) {
      headers.set("content-type", detectContentType(bytes));
    }
    const body = NULL_BODY_STATUS.has(status) || ctx.method === "HEAD" ? null : bytes;
    return new Response(body, { status, headers });
  };
}

/**
 * The response step of an API with response hooks while `enable_jsvm` is false: Tyk's VM is missing, so
 * every response becomes 500 "Middleware error".
 */
export function disabledResponseStep(entries: HookEntry[]): ResponseStep | null {
  if (entries.length === 0) return null;
  return async function jsvmDisabled(_ctx, response) {
    await response.body?.cancel();
    return FAILED;
  };
}
