/** The nested structs of a classic API definition (`apidef/api_definitions.go`). */
import { z } from "zod";
import { bool, entry, int, list, num, obj, recordOf, str, strList, strMap, strOr } from "./_fields.ts";

const authConfigShape = {
  name: str(),
  use_param: bool(),
  param_name: str(),
  use_cookie: bool(),
  cookie_name: str(),
  disable_header: bool(),
  /** Tyk reads `Authorization` when this is empty. */
  auth_header_name: strOr("Authorization"),
  use_certificate: bool(),
  validate_signature: bool(),
};

/** `auth` (the legacy single config). */
export const authSchema = obj(authConfigShape);
/** `auth_configs`: `authToken`, `jwt`, `basic`, … → AuthConfig. */
export const authConfigsSchema = recordOf(entry(authConfigShape));

/** A legacy `method_actions` value: `{"GET": {"action": "reply", "code": 200, "data": "…", "headers": {}}}`. */
const methodActionSchema = entry({ action: str(), code: int(), data: str(), headers: strMap() });

/** `ignored` / `white_list` / `black_list` entries. */
const endpointSchema = entry({
  path: str(),
  method: str(),
  disabled: bool(),
  ignore_case: bool(),
  method_actions: recordOf(methodActionSchema),
});

/** `size_limits` entries: the largest stated Content-Length a path and method accept. */
const sizeLimitSchema = entry({ path: str(), method: str(), size_limit: int(), disabled: bool() });

/** `virtual` entries: JS virtual endpoints. */
const virtualEndpointSchema = entry({
  response_function_name: str(),
  function_source_type: str(),
  function_source_uri: str(),
  path: str(),
  method: str(),
  use_session: bool(),
  proxy_on_error: bool(),
  disabled: bool(),
});

/** `advance_cache_config` entries: one cached endpoint with its own codes, timeout and body key. */
const advancedCacheSchema = entry({
  path: str(),
  method: str(),
  cache_key_regex: str(),
  cache_response_codes: list(int()),
  timeout: int(),
});

/** A trigger option: a regexp a value must match (or, `reverse`, must not). */
const stringRegexSchema = entry({ match_rx: str(), reverse: bool() });

/** A `url_rewrites` trigger: when its matches hold (`on`: `any` or `all`), `rewrite_to` replaces the entry's. */
const routingTriggerSchema = entry({
  on: str(),
  options: obj({
    header_matches: recordOf(stringRegexSchema),
    query_val_matches: recordOf(stringRegexSchema),
    path_part_matches: recordOf(stringRegexSchema),
    session_meta_matches: recordOf(stringRegexSchema),
    request_context_matches: recordOf(stringRegexSchema),
    payload_matches: obj({ match_rx: str(), reverse: bool() }),
  }),
  rewrite_to: str(),
});

/** `url_rewrites` entries. */
const urlRewriteSchema = entry({
  path: str(),
  method: str(),
  match_pattern: str(),
  rewrite_to: str(),
  triggers: list(routingTriggerSchema),
  disabled: bool(),
});

/** A version's `extended_paths`; members we do not model (`transform_headers`, …) pass through. */
const extendedPathsSchema = z.looseObject({
  ignored: list(endpointSchema),
  white_list: list(endpointSchema),
  black_list: list(endpointSchema),
  virtual: list(virtualEndpointSchema),
  /** Paths whose GET, HEAD and OPTIONS responses are cached. */
  cache: strList(),
  advance_cache_config: list(advancedCacheSchema),
  url_rewrites: list(urlRewriteSchema),
  size_limits: list(sizeLimitSchema),
}).prefault({});

const versionInfoSchema = entry({
  name: str(),
  expires: str(),
  paths: obj({ ignored: strList(), white_list: strList(), black_list: strList() }),
  use_extended_paths: bool(),
  extended_paths: extendedPathsSchema,
  global_headers: strMap(),
  global_headers_remove: strList(),
  global_headers_disabled: bool(),
  global_response_headers: strMap(),
  global_response_headers_remove: strList(),
  global_response_headers_disabled: bool(),
  ignore_endpoint_case: bool(),
  global_size_limit: int(),
  global_size_limit_disabled: bool(),
  override_target: str(),
});

/** `version_data`. */
export const versionDataSchema = obj({
  not_versioned: bool(),
  default_version: str(),
  versions: recordOf(versionInfoSchema),
});

/** `definition`: where the version name is read from. */
export const versionDefinitionSchema = obj({
  enabled: bool(),
  name: str(),
  default: str(),
  location: str(),
  key: strOr("x-api-version"),
  strip_path: bool(),
  strip_versioning_data: bool(),
  url_versioning_pattern: str(),
  fallback_to_default: bool(),
  versions: strMap(),
});

/** `proxy`. */
export const proxySchema = obj({
  listen_path: str(),
  target_url: str(),
  strip_listen_path: bool(),
  preserve_host_header: bool(),
  disable_strip_slash: bool(),
  enable_load_balancing: bool(),
  target_list: strList(),
  check_host_against_uptime_tests: bool(),
  transport: obj({
    ssl_insecure_skip_verify: bool(),
    ssl_ciphers: strList(),
    ssl_min_version: int(),
    ssl_max_version: int(),
    ssl_force_common_name_check: bool(),
    proxy_url: str(),
  }),
});

const middlewareShape = {
  name: str(),
  path: str(),
  require_session: bool(),
  raw_body_only: bool(),
  disabled: bool(),
  /** Base64 JS source (inline plugin). */
  code: str(),
};

/** `custom_middleware`: the plugin hooks. */
export const customMiddlewareSchema = obj({
  driver: str(),
  pre: list(entry(middlewareShape)),
  post_key_auth: list(entry(middlewareShape)),
  post: list(entry(middlewareShape)),
  response: list(entry(middlewareShape)),
  auth_check: obj(middlewareShape),
});

/** `cache_options`: Tyk's response cache. */
export const cacheOptionsSchema = obj({
  enable_cache: bool(),
  /** Seconds a response stays cached; 0 stores entries already expired, so nothing is served (as Tyk). */
  cache_timeout: int(),
  cache_all_safe_requests: bool(),
  cache_response_codes: list(int()),
  enable_upstream_cache_control: bool(),
  cache_control_ttl_header: str(),
  cache_by_headers: strList(),
});

/** `global_rate_limit`: one limit for all callers of the API. */
export const globalRateLimitSchema = obj({ rate: num(), per: num(), disabled: bool() });

/** Free-form JSON (`config_data`): `null` when absent. */
export const configDataSchema = z.unknown().default(null);
