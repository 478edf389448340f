/**
 * Tyk's KeyExpired and AccessRightsCheck steps (`gateway/mw_key_expired_check.go`,
 * `gateway/mw_access_rights.go`), one step since both only read the session attached by auth.
 */
import type { RequestCtx, Step } from "../context.ts";
import { GatewayError, MESSAGES } from "../errors.ts";

/** Options of the key checks. */
export interface KeyChecksOptions {
  /** The API's version_data.not_versioned: keys' version lists are not checked then. */
  notVersioned: boolean;
  now?: () => number;
  /** Raised when a key is expired or inactive. */
  onKeyExpired?: (ctx: RequestCtx, message: string) => void;
}

/**
 * Builds the key-expiry and access-rights step of a keyed API.
 * @example
 * const step = createKeyChecks({ notVersioned: def.version_data.not_versioned });
 */
export function createKeyChecks(options: KeyChecksOptions): Step {
  const now = options.now ?? Date.now;
  const inactive = new GatewayError(403, MESSAGES.keyInactive);
  const expired = new GatewayError(401, MESSAGES.keyExpired);
  const disallowed = new GatewayError(403, MESSAGES.accessDisallowed);
  const missing = new GatewayError(400, MESSAGES.sessionMissing);
  return function keyChecks(ctx) {
    if (ctx.ignored) return undefined;
    const session = ctx.session;
    if (!session) return missing;
    if (session.is_inactive) {
      options.onKeyExpired?.(ctx, "Attempted access from inactive key.");
      return inactive;
    }
    if (session.expires >= 1 && now() / 1000 > session.expires) {
      options.onKeyExpired?.(ctx, "Attempted access from expired key.");
      return expired;
    }
    const rights = session.access_rights ?? {};
    if (Object.keys(rights).length === 0) return undefined;
    const access = rights[ctx.apiId];
    if (!access) return disallowed;
    if (!options.notVersioned && !(access.versions ?? []).includes(ctx.versionName)) return disallowed;
    return undefined;
  };
}
