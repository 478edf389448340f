/**
 * The chain step that answers a request with a JS virtual endpoint (Tyk's `mw_virtual_endpoint.go`): the first endpoint of
 * the request's version whose path and method match calls its function in the API's sandbox pool,
 * `<fn>(request, session, spec)`, and the `TykJsResponse` it returns becomes the response, which still
 * goes through the API's response chain. Post hooks and the upstream are skipped.
 */
import { forcedResponse } from "./forced_response.ts";
import { buildSpecArgument, type JsHookApi } from "./hook_steps.ts";
import { hookRequest } from "./hook_request.ts";
import { writeBackMeta } from "./session_meta.ts";
import type { VirtualEndpoint } from "./virtual_sources.ts";
import type { VirtualResult } from "../../jsvm/protocol.ts";
import { JsvmError, type SandboxPool } from "../../jsvm/host/sandbox_pool.ts";
import { serializeSession } from "../../keys/session.ts";
import type { Logger } from "../../log.ts";
import { Forced, readBody, type RequestCtx, type Step, type StepResult } from "../context.ts";
import { matchEndpoint } from "../endpoint_match.ts";
import { GatewayError, MESSAGES } from "../errors.ts";
import { compilePattern, rulesForVersion } from "../version_check.ts";
import type { ApiDefinition } from "../../config/api_definition.ts";

/** How an API's virtual endpoints are matched, resolved once at load. */
export interface VirtualEndpointOptions {
  log: Logger;
  /** `http_server_options.enable_path_prefix_matching`. @default false */
  prefixMatching?: boolean;
  /** `http_server_options.enable_path_suffix_matching`. @default false */
  suffixMatching?: boolean;
}

interface VirtualRule {
  method: string;
  pattern: RegExp;
  endpoint: VirtualEndpoint;
}

const FAILED = new GatewayError(500, MESSAGES.virtualEndpointFailed);
const EMPTY_SESSION_JSON = "{}";

function isStringMap(value: unknown): value is Record<string, string> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  for (const key in value) if (typeof (value as Record<string, unknown>)[key] !== "string") return false;
  return true;
}

/**
 * Reads the `VirtualResult` JSON a sandbox answered with.
 * @throws Error when it is not what the protocol says (a sandbox is not trusted to be well-behaved)
 */
export function parseVirtualResult(text: string): VirtualResult {
  const value = JSON.parse(text);
  const meta = value?.sessionMeta;
  if (
    typeof value !== "object" || value === null || !Number.isInteger(value.status) ||
    typeof value.body !== "string" || !isStringMap(value.headers) ||
    !(meta === null || (typeof meta === "object" && !Array.isArray(meta)))
  ) {
    throw new Error("The JS sandbox answered with a malformed virtual endpoint result");
  }
  return value;
}

/** The session argument: the live session with `use_session` (`null` without a key). */
function sessionArgument(endpoint: VirtualEndpoint, ctx: RequestCtx): string {
  if (!endpoint.useSession) return EMPTY_SESSION_JSON;
  return ctx.session ? serializeSession(ctx.session) : "null";
}

/**
 * Builds the virtual endpoint step of an API; `null` when it has none.
 * @example
 * const step = createVirtualEndpointStep(def, endpoints, pool, api, { log });
 */
export function createVirtualEndpointStep(
  def: ApiDefinition,
  endpoints: VirtualEndpoint[],
  pool: SandboxPool,
  api: JsHookApi,
  options: VirtualEndpointOptions,
): Step | null {
  if (endpoints.length === 0) return null;
  const { log } = options;
  const spec = buildSpecArgument(api);
  const byVersion = new Map<string, VirtualRule[]>();
  for (const endpoint of endpoints) {
    const rules = byVersion.get(endpoint.version) ?? [];
    rules.push({
      method: endpoint.method,
      pattern: compilePattern(endpoint.path, options),
      endpoint,
    });
    byVersion.set(endpoint.version, rules);
  }

  const fail = (endpoint: VirtualEndpoint, ctx: RequestCtx, err: unknown): StepResult => {
    const fields = {
      api_id: api.apiId,
      function: endpoint.name,
      path: ctx.path,
      kind: err instanceof JsvmError ? err.kind : "response",
      error: err instanceof Error ? err.message : String(err),
      at: err instanceof JsvmError && err.file
        ? `${err.file}${err.line ? `:${err.line}` : ""}`
        : endpoint.source,
    };
    if (endpoint.proxyOnError) {
      log.warn("Virtual endpoint failed; proxying the request (proxy_on_error)", fields);
      return undefined;
    }
    log.error("Error during virtual endpoint execution", fields);
    return FAILED;
  };

  async function run(endpoint: VirtualEndpoint, ctx: RequestCtx): Promise<StepResult> {
    let response: Response;
    let result: VirtualResult;
    // a body over the limits is answered 413 or 503 (a thrown GatewayError), not treated as a plugin failure
    const body = await readBody(ctx);
    try {
      const request = hookRequest(ctx, body, api.ignoreCanonical);
      result = parseVirtualResult(
        await pool.callVirtual(endpoint.name, request, sessionArgument(endpoint, ctx), spec),
      );
      response = forcedResponse(result.status, result.body, result.headers, {
        log,
        logFields: { api_id: api.apiId, function: endpoint.name, path: ctx.path },
      });
    } catch (err) {
      return fail(endpoint, ctx, err);
    }
    if (endpoint.useSession && ctx.session) writeBackMeta(ctx, result.sessionMeta);
    return new Forced(response);
  }

  const rulesOf = rulesForVersion(def, byVersion);
  return function virtualEndpoint(ctx) {
    const rules = rulesOf(ctx);
    const rule = rules && matchEndpoint(rules, ctx);
    return rule ? run(rule.endpoint, ctx) : undefined;
  };
}
