/**
 * Classic Tyk API definitions (`apps/*.json`, `POST /tyk/apis` bodies): the schema with Go zero values and
 * Tyk's fallbacks, Go-style case-insensitive keys (unknown keys, e.g. Dashboard fields, are dropped
 * silently), `env://` / `secrets://` references, and Tyk's load-time normalisation (a leading `/` on
 * the listen path, which is path-cleaned with its trailing `/` kept).
 */
import { z } from "zod";
import {
  authConfigsSchema,
  authSchema,
  cacheOptionsSchema,
  configDataSchema,
  customMiddlewareSchema,
  globalRateLimitSchema,
  proxySchema,
  versionDataSchema,
  versionDefinitionSchema,
} from "./_api_definition_parts.ts";
import {
  bool,
  describeValue,
  eventHandlers,
  int,
  isPlainObject,
  issuesText,
  obj,
  str,
  strList,
} from "./_fields.ts";
import { parseEgressRule } from "./egress_rule.ts";
import { foldGoJsonKeys } from "./_go_json_keys.ts";
import { parseJsonText } from "./_json_text.ts";
import { type ReferenceSources, replaceReferences } from "./_references.ts";

export type { ReferenceSources } from "./_references.ts";

/** The schema of a classic API definition after key folding. */
export const apiDefinitionSchema = z.object({
  api_id: str(),
  org_id: str(),
  name: str(),
  slug: str(),
  active: bool(),
  internal: bool(),
  expiration: str(),
  use_keyless: bool(),
  use_standard_auth: bool(),
  auth: authSchema,
  auth_configs: authConfigsSchema,
  strip_auth_data: bool(),
  use_basic_auth: bool(),
  enable_jwt: bool(),
  use_oauth2: bool(),
  enable_signature_checking: bool(),
  use_openid: bool(),
  use_mutual_tls_auth: bool(),
  /** True when any of the three custom-auth flags is set (see `parseApiDefinition()`). */
  custom_plugin_auth_enabled: bool(),
  enable_coprocess_auth: bool(),
  use_go_plugin_auth: bool(),
  base_identity_provided_by: str(),
  definition: versionDefinitionSchema,
  version_data: versionDataSchema,
  proxy: proxySchema,
  custom_middleware: customMiddlewareSchema,
  custom_middleware_bundle: str(),
  custom_middleware_bundle_disabled: bool(),
  config_data: configDataSchema,
  cache_options: cacheOptionsSchema,
  config_data_disabled: bool(),
  event_handlers: eventHandlers(),
  global_rate_limit: globalRateLimitSchema,
  disable_rate_limit: bool(),
  disable_quota: bool(),
  dont_set_quota_on_create: bool(),
  session_lifetime: int(),
  session_lifetime_respects_key_expiration: bool(),
  domain: str(),
  domain_disabled: bool(),
  listen_port: int(0, 0, 65535),
  protocol: str(),
  enable_ip_whitelisting: bool(),
  allowed_ips: strList(),
  enable_ip_blacklisting: bool(),
  blacklisted_ips: strList(),
  ip_access_control_disabled: bool(),
  is_oas: bool(),
  tags: strList(),
  enable_context_vars: bool(),
  do_not_track: bool(),
  enable_batch_request_support: bool(),
  /**
   * Our addition (Tyk ignores the field): limits on what this API's plugins may do through the host API.
   * Every default is Tyk's behaviour.
   */
  jsvm_limits: obj({
    /** Where TykMakeHttpRequest, TykBatchRequest and TykFetch may go (see egress_rule.ts); null: anywhere. */
    egress_allow: strList().nullable().default(null),
    /** TykGetKeyData and TykSetKeyData work. */
    key_functions: bool(true),
    /** TykStorage* keys live in a space of this API's own instead of the one all APIs share. */
    storage_per_api: bool(),
  }),
});

/** A validated, normalised classic API definition. */
export type ApiDefinition = z.infer<typeof apiDefinitionSchema>;
/** One auth method's settings (`auth`, `auth_configs.*`). */
export type AuthConfig = ApiDefinition["auth"];

/** An API definition that cannot be loaded; the message names the source and the field. */
export class ApiDefinitionError extends Error {
  override name = "ApiDefinitionError";
}

/** The auth-token settings Tyk uses: `auth_configs.authToken` when present, else the legacy `auth`. */
export function tokenAuthConfig(def: ApiDefinition): AuthConfig {
  return def.auth_configs.authToken ?? def.auth;
}

/** Go's `path.Clean` for a rooted path, keeping a trailing `/` as Tyk does for listen paths. */
function cleanListenPath(listenPath: string): string {
  const rooted = listenPath.startsWith("/") ? listenPath : `/${listenPath}`;
  const parts: string[] = [];
  for (const segment of rooted.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") parts.pop();
    else parts.push(segment);
  }
  const cleaned = `/${parts.join("/")}`;
  return rooted.endsWith("/") && cleaned !== "/" ? `${cleaned}/` : cleaned;
}

function isHttpUrl(text: string): boolean {
  if (!URL.canParse(text)) return false;
  const { protocol, host } = new URL(text);
  return (protocol === "http:" || protocol === "https:") && host !== "";
}

/** Checks and rewrites what Tyk's loader checks and rewrites; returns the problem, if any. */
function normalise(def: ApiDefinition): string | undefined {
  const id = def.api_id;
  if (id === "") return "api_id is empty";
  if (id === "." || /[/\\\0]|\.\./.test(id)) {
    return `api_id must be usable as a file name (no "/", "\\", ".." or NUL), got ${describeValue(id)}`;
  }
  const proxy = def.proxy;
  if (proxy.listen_path === "") return "proxy.listen_path is empty";
  if (proxy.listen_path.includes(" ")) {
    return `proxy.listen_path must not contain a space, got ${describeValue(proxy.listen_path)}`;
  }
  proxy.listen_path = cleanListenPath(proxy.listen_path);
  if (proxy.enable_load_balancing && proxy.target_list.length > 0) {
    const bad = proxy.target_list.findIndex((target) => !isHttpUrl(target));
    if (bad >= 0) {
      return `proxy.target_list[${bad}] must be an absolute http(s) URL, got ${
        describeValue(proxy.target_list[bad])
      }`;
    }
  } else if (!isHttpUrl(proxy.target_url)) {
    return `proxy.target_url must be an absolute http(s) URL, got ${describeValue(proxy.target_url)}`;
  }
  const egress = def.jsvm_limits.egress_allow ?? [];
  const badRule = egress.findIndex((entry) => parseEgressRule(entry) === null);
  if (badRule >= 0) {
    return `jsvm_limits.egress_allow[${badRule}] must be a host name, *.domain, IP address (each with an optional :port) or CIDR range, got ${
      describeValue(egress[badRule])
    }`;
  }
  def.custom_plugin_auth_enabled ||= def.enable_coprocess_auth || def.use_go_plugin_auth;
  return undefined;
}

/**
 * Validates a decoded classic API definition: references replaced, keys matched like Go, defaults applied,
 * listen path normalised.
 * @param json the decoded definition
 * @param source the file or request it came from, for messages
 * @param options where `env://` and `secrets://` references are looked up
 * @throws {ApiDefinitionError} e.g. `Cannot load API from /x/apps/a.json: proxy.target_url must be an absolute http(s) URL, got "foo"`
 */
export function parseApiDefinition(
  json: unknown,
  source: string,
  options: ReferenceSources = {},
): ApiDefinition {
  const fail = (detail: string) => new ApiDefinitionError(`Cannot load API from ${source}: ${detail}`);
  if (!isPlainObject(json)) throw fail(`the definition must be a JSON object, got ${describeValue(json)}`);
  const raw = replaceReferences(foldGoJsonKeys(json, apiDefinitionSchema), options);
  const parsed = apiDefinitionSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) throw fail(issuesText(parsed.error.issues));
  const problem = normalise(parsed.data);
  if (problem) throw fail(problem);
  return parsed.data;
}

/**
 * Parses and validates the JSON text of a classic API definition.
 * @throws {ApiDefinitionError} also for JSON syntax errors, with their line and column
 */
export function parseApiDefinitionText(
  text: string,
  source: string,
  options: ReferenceSources = {},
): ApiDefinition {
  let json: unknown;
  try {
    json = parseJsonText(text);
  } catch (err) {
    throw new ApiDefinitionError(
      `Cannot load API from ${source}: not valid JSON (${(err as Error).message})`,
      {
        cause: err,
      },
    );
  }
  return parseApiDefinition(json, source, options);
}
