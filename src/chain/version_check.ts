/**
 * Tyk's VersionCheck step (`gateway/mw_version_check.go`): resolves the API version, enforces API and version
 * expiry, and the version's ignored / white_list / black_list endpoints. Everything is compiled at load.
 */
import type { ApiDefinition } from "../config/api_definition.ts";
import type { RequestCtx, Step } from "./context.ts";
import { GatewayError, MESSAGES } from "./errors.ts";
import { type EndpointReply, type EndpointRule, matchEndpoint } from "./endpoint_match.ts";
import { canonicalHeaderKey, detectContentType, toHeaderValue } from "../jsvm/go/http.ts";

type VersionInfo = ApiDefinition["version_data"]["versions"][string];
type MethodAction = VersionInfo["extended_paths"]["ignored"][number]["method_actions"][string];

const ENCODER = new TextEncoder();
/** Statuses a `Response` must carry without a body. */
const NULL_BODY_STATUS = new Set([204, 205, 304]);

/** Path-matching options from `http_server_options`. */
export interface VersionCheckOptions {
  prefixMatching?: boolean;
  suffixMatching?: boolean;
  now?: () => number;
}

interface CompiledVersion {
  name: string;
  expiresAt: number;
  rules: EndpointRule[];
  whiteListMode: boolean;
}

/** Parses Tyk's `"2006-01-02 15:04"` expiry layout; `""`/`"-1"` (or unparsable) mean never. */
export function parseTykExpiry(value: string | undefined): number {
  if (!value || value === "-1") return Infinity;
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2})$/.exec(value.trim());
  if (!m) return Infinity;
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]);
}

/**
 * A legacy `method_actions` reply, answered as Tyk's `DoMockReply` does: the headers (canonical names), the
 * code and the data; Go's server sniffs a Content-Type for a body without one. A reply without a code
 * answers 200 (Tyk's server refuses code 0 and drops the connection; docs/differences.md).
 */
function compileReply(action: MethodAction): EndpointReply {
  const headers = new Headers();
  for (const [name, value] of Object.entries(action.headers)) {
    headers.append(canonicalHeaderKey(name), toHeaderValue(value));
  }
  const body = ENCODER.encode(action.data);
  if (body.length > 0 && !headers.has("content-type")) headers.set("content-type", detectContentType(body));
  return { status: action.code || 200, body, headers: [...headers] };
}

function compileVersion(info: VersionInfo, name: string, options: VersionCheckOptions): CompiledVersion {
  const rules: EndpointRule[] = [];
  const add = (kind: EndpointRule["kind"], path: string, method: string, reply?: EndpointReply) =>
    rules.push({ kind, method: method.toUpperCase(), pattern: compilePattern(path, options), reply });
  if (info.use_extended_paths) {
    for (const kind of ["ignored", "black_list", "white_list"] as const) {
      for (const entry of info.extended_paths[kind] ?? []) {
        if (entry.disabled) continue;
        // the legacy per-method actions first: a "reply" answers for its method, whichever list it is in
        const actions = Object.entries(entry.method_actions ?? {});
        for (const [method, action] of actions) {
          add(kind, entry.path, method, action.action === "reply" ? compileReply(action) : undefined);
        }
        const listed = actions.some(([method]) => method.toUpperCase() === entry.method.toUpperCase());
        if (entry.method && !listed) add(kind, entry.path, entry.method);
        else if (!entry.method && actions.length === 0) add(kind, entry.path, "");
      }
    }
  } else {
    for (const kind of ["ignored", "black_list", "white_list"] as const) {
      for (const path of info.paths[kind] ?? []) add(kind, path, "");
    }
  }
  return {
    name,
    expiresAt: parseTykExpiry(info.expires),
    rules,
    whiteListMode: rules.some((r) => r.kind === "white_list"),
  };
}

/** Turns an endpoint path into Tyk's regexp: `{x}` → one segment, `/*` → anything; unanchored by default. */
export function compilePattern(path: string, options: VersionCheckOptions = {}): RegExp {
  let source = path.replace(/\{[^}]*\}/g, "([^/]+)").replace(/\/\*\//g, "/[^/]+/").replace(/\/\*$/, "/.*");
  if (options.prefixMatching && source.startsWith("/")) source = `^${source}`;
  if (options.suffixMatching) source = `${source}$`;
  try {
    return new RegExp(source);
  } catch {
    return new RegExp(source.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  }
}

/**
 * The version a non-versioned API serves: its only one, else the one named `Default`, `default` or `""`;
 * the error Tyk answers when there is none or more than one.
 */
export function fixedVersion(def: ApiDefinition): [name: string, info: VersionInfo] | GatewayError {
  const entries = Object.entries(def.version_data.versions);
  if (entries.length === 1) return entries[0];
  const defaults = entries.filter(([name]) => name === "Default" || name === "default" || name === "");
  if (defaults.length > 1) return new GatewayError(403, MESSAGES.ambiguousDefaultVersion);
  if (defaults.length === 0) return new GatewayError(403, MESSAGES.noDefaultVersion);
  return defaults[0];
}

/**
 * Finds the rules of the version a request resolved to: a non-versioned API's one version for every
 * request, else the version the version check chose.
 * @param rules version name → rules, built at load
 */
export function rulesForVersion<R>(
  def: ApiDefinition,
  rules: Map<string, R[]>,
): (ctx: RequestCtx) => R[] | undefined {
  if (def.version_data.not_versioned) {
    const fixed = fixedVersion(def);
    const only = fixed instanceof GatewayError ? undefined : rules.get(fixed[0]);
    return () => only;
  }
  return (ctx) => rules.get(ctx.versionName);
}

function resolveFixedVersion(
  def: ApiDefinition,
  options: VersionCheckOptions,
): CompiledVersion | GatewayError {
  const fixed = fixedVersion(def);
  return fixed instanceof GatewayError ? fixed : compileVersion(fixed[1], fixed[0], options);
}

function replyResponse(reply: EndpointReply): Response {
  const body = NULL_BODY_STATUS.has(reply.status) ? null : reply.body;
  return new Response(body, { status: reply.status, headers: reply.headers });
}

function versionFromRequest(ctx: RequestCtx, def: ApiDefinition): string {
  const { location, key } = def.definition;
  if (location === "header") return ctx.headers.get(key) ?? "";
  if (location === "url-param") return new URLSearchParams(ctx.query).get(key) ?? "";
  if (location === "url") {
    const rest = ctx.path.slice(ctx.listenPath.length).replace(/^\//, "");
    return rest.split("/")[0] ?? "";
  }
  return "";
}

/**
 * Builds an API's version check; `null` when the API has one version, no expiry and no endpoint lists.
 * @example
 * const step = createVersionCheck(def, { prefixMatching: false });
 */
export function createVersionCheck(def: ApiDefinition, options: VersionCheckOptions = {}): Step | null {
  const now = options.now ?? Date.now;
  const apiExpiresAt = parseTykExpiry(def.expiration);
  const apiExpired = new GatewayError(403, MESSAGES.apiExpired);
  const forbidden = new GatewayError(403, MESSAGES.endpointForbidden);
  const versionExpired = new GatewayError(403, MESSAGES.versionExpired);

  const check = (ctx: RequestCtx, version: CompiledVersion): Response | GatewayError | undefined => {
    ctx.versionName = version.name;
    if (version.expiresAt <= now()) return versionExpired;
    if (version.rules.length === 0) return undefined;
    const rule = matchEndpoint(version.rules, ctx);
    if (rule?.reply) return replyResponse(rule.reply);
    if (rule?.kind === "black_list") return forbidden;
    if (rule?.kind === "ignored") ctx.ignored = true;
    if (version.whiteListMode && rule?.kind !== "white_list" && rule?.kind !== "ignored") return forbidden;
    return undefined;
  };

  if (def.version_data.not_versioned) {
    const fixed = resolveFixedVersion(def, options);
    if (fixed instanceof GatewayError) return () => fixed;
    if (apiExpiresAt === Infinity && fixed.expiresAt === Infinity && fixed.rules.length === 0) {
      return null;
    }
    return function versionCheck(ctx) {
      if (apiExpiresAt <= now()) return apiExpired;
      return check(ctx, fixed);
    };
  }

  const versions = new Map<string, CompiledVersion>();
  for (const [name, info] of Object.entries(def.version_data.versions)) {
    versions.set(name, compileVersion(info, name, options));
  }
  const notFound = new GatewayError(403, MESSAGES.versionInfoNotFound);
  const missing = new GatewayError(403, MESSAGES.versionMissing);
  const fallback = def.definition.default || def.version_data.default_version;
  return function versionCheck(ctx) {
    if (apiExpiresAt <= now()) return apiExpired;
    const requested = versionFromRequest(ctx, def) || def.version_data.default_version;
    if (!requested) return notFound;
    const version = versions.get(requested) ??
      (def.definition.fallback_to_default && fallback ? versions.get(fallback) : undefined);
    if (!version) return missing;
    return check(ctx, version);
  };
}
