/**
 * Tyk's auth-token step (`gateway/mw_auth_key.go`): reads the key from header, query or cookie, looks the
 * session up through the KeyStore and attaches it to the request.
 */
import type { ApiDefinition } from "../../config/api_definition.ts";
import type { KeyStore } from "../../keys/key_store.ts";
import type { Logger } from "../../log.ts";
import { applyPolicies } from "../../policies/apply_policies.ts";
import type { PolicyMap } from "../../config/policy.ts";
import type { RequestCtx, Step } from "../context.ts";
import { GatewayError, MESSAGES } from "../errors.ts";

/** Where an API reads its key from: the effective `auth_configs.authToken` or legacy `auth`. */
export type TokenAuthConfig = ApiDefinition["auth"];

/** Gateway-wide auth options. */
export interface TokenAuthOptions {
  keyStore: KeyStore;
  log: Logger;
  /** override_messages from tyk.conf. */
  overrides?: Record<string, { message?: string; code?: number }>;
  /**
   * Make the key's session the request's: `base_identity_provided_by` unset or `auth_token`. Otherwise the
   * key is still checked, but another auth method (a JS auth_check) provides the identity. @default true
   */
  installSession?: boolean;
  /** The policies loaded now, merged into each key's session (`apply_policies`). @default none */
  policies?: () => PolicyMap;
  /** Raised on the API's event bus when a presented key is not found. */
  onAuthFailure?: (ctx: RequestCtx, key: string) => void;
}

function readCookie(header: string | null, name: string): string {
  if (!header) return "";
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return "";
}

/** Extracts the presented key the way Tyk does: header, then query param, then cookie; `Bearer ` stripped. */
export function extractToken(ctx: RequestCtx, auth: TokenAuthConfig): string {
  const headerName = auth.auth_header_name || "Authorization";
  let token = auth.disable_header ? "" : ctx.headers.get(headerName) ?? "";
  if (auth.use_param) {
    const value = new URLSearchParams(ctx.query).get(auth.param_name || headerName);
    if (value) token = value;
  }
  if (auth.use_cookie) {
    const value = readCookie(ctx.headers.get("cookie"), auth.cookie_name || headerName);
    if (value) token = value;
  }
  if (token.length > 7 && /^bearer /i.test(token)) token = token.slice(7);
  return token;
}

function overridden(id: string, status: number, message: string, options: TokenAuthOptions): GatewayError {
  const override = options.overrides?.[id];
  return new GatewayError(override?.code || status, override?.message || message);
}

/**
 * Builds an API's token-auth step.
 * @example
 * const step = createTokenAuth(def.org_id, tokenAuthConfig(def), { keyStore, log });
 */
export function createTokenAuth(orgId: string, auth: TokenAuthConfig, options: TokenAuthOptions): Step {
  const missing = overridden("auth.auth_field_missing", 401, MESSAGES.authFieldMissing, options);
  const notFound = overridden("auth.key_not_found", 403, MESSAGES.keyNotFound, options);
  const unavailable = new GatewayError(503, MESSAGES.keyStoreUnavailable);
  const installSession = options.installSession ?? true;
  const noPolicies: PolicyMap = new Map();
  const policies = options.policies ?? (() => noPolicies);
  return async function tokenAuth(ctx) {
    if (ctx.ignored) return undefined;
    const token = extractToken(ctx, auth);
    if (!token) return missing;
    let found;
    try {
      found = await options.keyStore.lookup(token, orgId);
    } catch (err) {
      options.log.error("Cannot check key: key store unavailable", { api_id: ctx.apiId, error: String(err) });
      return unavailable;
    }
    if (!found) {
      options.onAuthFailure?.(ctx, token);
      return notFound;
    }
    try {
      applyPolicies(found.session, policies(), orgId);
    } catch (err) {
      // Tyk treats a key whose policies cannot be applied as not found
      options.log.error(`Cannot apply policies to key: ${(err as Error).message}`, { api_id: ctx.apiId });
      return notFound;
    }
    if (installSession) {
      ctx.session = found.session;
      ctx.sessionKey = found.keyName;
      // a session an earlier auth step installed and marked for storing is no longer the request's
      ctx.sessionModified = false;
    }
    return undefined;
  };
}
