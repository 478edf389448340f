/**
 * Tyk OAS API definitions: an OpenAPI document with an `x-tyk-api-gateway` extension, converted to the
 * classic shape (as Tyk's `apidef/oas` `ExtractTo` does) so one loader and one runtime model serve both.
 */
import { ApiDefinitionError } from "./api_definition.ts";
import { describeValue, isPlainObject, issuesText } from "./_fields.ts";
import { foldGoJsonKeys } from "./_go_json_keys.ts";
import {
  OAS_METHODS,
  type OasDocument,
  oasDocumentSchema,
  type OasPlugin,
  type XTyk,
} from "./_oas_schema.ts";

const EXTENSION = "x-tyk-api-gateway";
const DURATION_UNITS: Record<string, number> = {
  ns: 1e-9,
  us: 1e-6,
  "µs": 1e-6,
  "μs": 1e-6,
  ms: 1e-3,
  s: 1,
  m: 60,
  h: 3600,
};

/** True for a Tyk OAS document: a JSON object carrying `x-tyk-api-gateway`. */
export function isOasDocument(json: unknown): boolean {
  return isPlainObject(json) && isPlainObject(json[EXTENSION]);
}

/** Go's `time.ParseDuration` in seconds (`"1m"` → 60, `"1h30m"`, `"500ms"`); `""` is 0. */
function goDurationSeconds(text: string): number | undefined {
  if (text === "" || text === "0") return 0;
  const sign = text.startsWith("-") ? -1 : 1;
  const body = text.replace(/^[-+]/, "");
  const part = /(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
  let seconds = 0;
  let at = 0;
  while (at < body.length) {
    part.lastIndex = at;
    const match = part.exec(body);
    if (!match) return undefined;
    seconds += Number(match[1]) * DURATION_UNITS[match[2]];
    at = part.lastIndex;
  }
  return body === "" ? undefined : sign * seconds;
}

function plugins(list: OasPlugin[], legacy: { plugins: OasPlugin[] }) {
  return (list.length > 0 ? list : legacy.plugins).map((p) => ({
    name: p.functionName,
    path: p.path,
    code: p.code,
    raw_body_only: p.rawBodyOnly,
    require_session: p.requireSession,
    disabled: !p.enabled,
  }));
}

function headerMap(headers: { name: string; value: string }[]): Record<string, string> {
  return Object.fromEntries(headers.map((h) => [h.name, h.value]));
}

/** The auth-token config from the first security requirement's `apiKey` scheme, as Tyk's legacy mode reads it. */
function tokenAuth(doc: OasDocument, x: XTyk) {
  const required = Object.keys(doc.security[0] ?? {});
  const name = required.find((scheme) => doc.components.securitySchemes[scheme]?.type === "apiKey");
  if (name === undefined) return undefined;
  const component = doc.components.securitySchemes[name];
  const config = {
    name: "authToken",
    disable_header: component.in !== "header",
    auth_header_name: component.in === "header" ? component.name : "",
    use_param: component.in === "query",
    param_name: component.in === "query" ? component.name : "",
    use_cookie: component.in === "cookie",
    cookie_name: component.in === "cookie" ? component.name : "",
  };
  const scheme = x.server.authentication.securitySchemes[name];
  if (scheme?.header.enabled) {
    config.disable_header = false;
    config.auth_header_name = scheme.header.name || config.auth_header_name;
  }
  if (scheme?.query.enabled) {
    config.use_param = true;
    config.param_name = scheme.query.name || config.param_name;
  }
  if (scheme?.cookie.enabled) {
    config.use_cookie = true;
    config.cookie_name = scheme.cookie.name || config.cookie_name;
  }
  return { enabled: scheme?.enabled ?? false, config };
}

type HandlerEntry = { handler_name: string; handler_meta: Record<string, unknown> };

function eventHandlers(x: XTyk): Record<string, HandlerEntry[]> {
  const events: Record<string, HandlerEntry[]> = {};
  for (const h of x.server.eventHandlers) {
    const common = { disabled: !h.enabled, id: h.id, name: h.name };
    const handler = h.type === "webhook"
      ? {
        handler_name: "eh_web_hook_handler",
        handler_meta: {
          ...common,
          method: h.method,
          target_path: h.url,
          template_path: h.bodyTemplate,
          header_map: headerMap(h.headers),
          event_timeout: goDurationSeconds(h.cooldownPeriod) ?? 0,
        },
      }
      : h.type === "log"
      ? { handler_name: "eh_log_handler", handler_meta: { ...common, prefix: h.logPrefix } }
      : h.type === "custom"
      ? {
        handler_name: "eh_dynamic_handler",
        handler_meta: { ...common, name: h.functionName, path: h.path },
      }
      : undefined;
    if (handler) (events[h.trigger] ??= []).push(handler);
  }
  return events;
}

/** `middleware.operations.<operationId>` → `extended_paths`, with each operation's OpenAPI path and method. */
function extendedPaths(doc: OasDocument, x: XTyk) {
  const out = {
    ignored: [] as unknown[],
    white_list: [] as unknown[],
    black_list: [] as unknown[],
    virtual: [] as unknown[],
  };
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of OAS_METHODS) {
      const operationId = item[method]?.operationId;
      const op = operationId ? x.middleware.operations[operationId] : undefined;
      if (!op) continue;
      const upper = method.toUpperCase();
      const meta = (m: { enabled: boolean; ignoreCase: boolean }) => ({
        path,
        method: upper,
        disabled: !m.enabled,
        ignore_case: m.ignoreCase,
      });
      if (op.allow) out.white_list.push(meta(op.allow));
      if (op.block) out.black_list.push(meta(op.block));
      if (op.ignoreAuthentication) out.ignored.push(meta(op.ignoreAuthentication));
      const ve = op.virtualEndpoint;
      if (ve) {
        out.virtual.push({
          response_function_name: ve.functionName || ve.name,
          function_source_type: ve.body ? "blob" : "file",
          function_source_uri: ve.body || ve.path,
          path,
          method: upper,
          use_session: ve.requireSession,
          proxy_on_error: ve.proxyOnError,
          disabled: !ve.enabled,
        });
      }
    }
  }
  return out;
}

/**
 * Converts a Tyk OAS document to a classic definition (with `is_oas: true`) for `parseApiDefinition()`.
 * @param doc the decoded OpenAPI document
 * @param source the file or request it came from, for messages
 * @throws {ApiDefinitionError} when the extension is missing, mistyped, or lacks id, listen path or upstream
 */
export function oasToClassic(doc: unknown, source: string): unknown {
  const fail = (detail: string) => new ApiDefinitionError(`Cannot load API from ${source}: ${detail}`);
  if (!isOasDocument(doc)) throw fail(`the OpenAPI document has no ${EXTENSION} object`);
  const parsed = oasDocumentSchema.safeParse(foldGoJsonKeys(doc, oasDocumentSchema), { reportInput: true });
  if (!parsed.success) throw fail(issuesText(parsed.error.issues));
  const oas = parsed.data;
  const x = oas[EXTENSION];
  const { info, server, upstream } = x;
  const global = x.middleware.global;
  if (info.id === "") throw fail(`${EXTENSION}.info.id is empty`);
  if (server.listenPath.value === "") throw fail(`${EXTENSION}.server.listenPath.value is empty`);
  if (upstream.url === "") throw fail(`${EXTENSION}.upstream.url is empty`);
  const per = goDurationSeconds(upstream.rateLimit.per);
  if (per === undefined) {
    throw fail(
      `${EXTENSION}.upstream.rateLimit.per must be a duration like "1m", got ${
        describeValue(upstream.rateLimit.per)
      }`,
    );
  }
  const auth = server.authentication;
  const token = tokenAuth(oas, x);
  const custom = auth.custom;
  const versioning = info.versioning;
  return {
    api_id: info.id,
    org_id: info.orgId,
    name: info.name,
    active: info.state.active,
    internal: info.state.internal,
    expiration: info.expiration,
    is_oas: true,
    use_keyless: !auth.enabled,
    use_standard_auth: token?.enabled ?? false,
    auth_configs: token ? { authToken: token.config } : {},
    strip_auth_data: auth.stripAuthorizationData,
    base_identity_provided_by: auth.baseIdentityProvider,
    custom_plugin_auth_enabled: custom.enabled,
    definition: {
      enabled: versioning.enabled,
      name: versioning.name,
      default: versioning.default,
      location: versioning.location,
      key: versioning.key,
      strip_versioning_data: versioning.stripVersioningData,
      url_versioning_pattern: versioning.urlVersioningPattern,
      fallback_to_default: versioning.fallbackToDefault,
      versions: Object.fromEntries(versioning.versions.map((v) => [v.name, v.id])),
    },
    version_data: {
      not_versioned: true,
      versions: {
        Default: {
          name: "Default",
          use_extended_paths: true,
          extended_paths: extendedPaths(oas, x),
          global_headers: global.transformRequestHeaders.enabled
            ? headerMap(global.transformRequestHeaders.add)
            : {},
          global_headers_remove: global.transformRequestHeaders.enabled
            ? global.transformRequestHeaders.remove
            : [],
          global_response_headers: global.transformResponseHeaders.enabled
            ? headerMap(global.transformResponseHeaders.add)
            : {},
          global_response_headers_remove: global.transformResponseHeaders.enabled
            ? global.transformResponseHeaders.remove
            : [],
        },
      },
    },
    proxy: {
      listen_path: server.listenPath.value,
      strip_listen_path: server.listenPath.strip,
      target_url: upstream.url,
      preserve_host_header: upstream.preserveHostHeader.enabled,
      disable_strip_slash: upstream.preserveTrailingSlash.enabled,
    },
    custom_middleware: {
      driver: global.pluginConfig.driver,
      pre: plugins(global.prePlugins, global.prePlugin),
      post_key_auth: plugins(global.postAuthenticationPlugins, global.postAuthenticationPlugin),
      post: plugins(global.postPlugins, global.postPlugin),
      response: plugins(global.responsePlugins, global.responsePlugin),
      auth_check: {
        name: custom.config.functionName,
        path: custom.config.path,
        raw_body_only: custom.config.rawBodyOnly,
        require_session: custom.config.requireSession,
        disabled: !custom.config.enabled,
      },
    },
    config_data: global.pluginConfig.data?.value ?? null,
    config_data_disabled: !(global.pluginConfig.data?.enabled ?? false),
    event_handlers: { events: eventHandlers(x) },
    global_rate_limit: { rate: upstream.rateLimit.rate, per, disabled: !upstream.rateLimit.enabled },
    disable_rate_limit: global.skipRateLimit,
    disable_quota: global.skipQuota,
    dont_set_quota_on_create: global.skipQuotaReset,
    domain: server.customDomain.name,
    domain_disabled: !server.customDomain.enabled,
    enable_ip_whitelisting: server.ipAccessControl.enabled && server.ipAccessControl.allow.length > 0,
    allowed_ips: server.ipAccessControl.allow,
    enable_ip_blacklisting: server.ipAccessControl.enabled && server.ipAccessControl.block.length > 0,
    blacklisted_ips: server.ipAccessControl.block,
    enable_context_vars: global.contextVariables.enabled,
  };
}
