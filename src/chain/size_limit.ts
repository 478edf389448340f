/**
 * Tyk's request size limit (gateway/mw_request_size_limit.go): per API version, `global_size_limit` and then
 * the first matching `extended_paths.size_limits` entry hold a request's stated Content-Length to a limit.
 * Without a Content-Length the request gets 411, over the limit 400; GET, DELETE, TRACE, OPTIONS and HEAD
 * are not checked. Only the stated length is read: the body itself streams on.
 */
import type { ApiDefinition } from "../config/api_definition.ts";
import type { RequestCtx, Step } from "./context.ts";
import { matchEndpoint } from "./endpoint_match.ts";
import { GatewayError, MESSAGES } from "./errors.ts";
import { compilePattern, fixedVersion, type VersionCheckOptions } from "./version_check.ts";

interface SizeRule {
  method: string;
  pattern: RegExp;
  limit: number;
}

interface VersionLimits {
  /** `global_size_limit`; 0 when none or disabled. */
  global: number;
  rules: SizeRule[];
}

/** Methods Tyk lets through unchecked: bodies are not expected on them. */
const SKIPPED_METHODS = new Set(["GET", "DELETE", "TRACE", "OPTIONS", "HEAD"]);
const LENGTH_REQUIRED = new GatewayError(411, MESSAGES.contentLengthRequired);
const TOO_LARGE = new GatewayError(400, MESSAGES.requestTooLarge);

function compileVersion(
  info: ApiDefinition["version_data"]["versions"][string],
  options: VersionCheckOptions,
) {
  const rules: SizeRule[] = [];
  for (const entry of info.extended_paths.size_limits) {
    // Tyk matches an entry's method exactly, so one without a method never applies
    if (entry.disabled || entry.method === "") continue;
    rules.push({
      method: entry.method,
      pattern: compilePattern(entry.path, options),
      limit: entry.size_limit,
    });
  }
  return { global: info.global_size_limit_disabled ? 0 : info.global_size_limit, rules };
}

function check(ctx: RequestCtx, limit: number): GatewayError | undefined {
  const stated = ctx.headers.get("content-length");
  if (stated === null) return LENGTH_REQUIRED;
  return Number(stated) > limit ? TOO_LARGE : undefined;
}

/**
 * Builds an API's size limit step; `null` when no version sets a limit.
 * @example
 * const step = createSizeLimit(def, { prefixMatching: false });
 */
export function createSizeLimit(def: ApiDefinition, options: VersionCheckOptions = {}): Step | null {
  const versions = new Map<string, VersionLimits>();
  for (const [name, info] of Object.entries(def.version_data.versions)) {
    const limits = compileVersion(info, options);
    if (limits.global > 0 || limits.rules.length > 0) versions.set(name, limits);
  }
  if (versions.size === 0) return null;
  const fixed = def.version_data.not_versioned ? fixedVersion(def) : null;
  const only = Array.isArray(fixed) ? versions.get(fixed[0]) : undefined;
  const limitsFor = def.version_data.not_versioned
    ? () => only
    : (ctx: RequestCtx) => versions.get(ctx.versionName);
  return function sizeLimit(ctx) {
    if (SKIPPED_METHODS.has(ctx.method)) return undefined;
    const limits = limitsFor(ctx);
    if (limits === undefined) return undefined;
    if (limits.global > 0) {
      const failed = check(ctx, limits.global);
      if (failed) return failed;
    }
    const rule = matchEndpoint(limits.rules, ctx);
    return rule ? check(ctx, rule.limit) : undefined;
  };
}
