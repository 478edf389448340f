import assert from "node:assert/strict";
import { parseApiDefinition, tokenAuthConfig } from "./api_definition.ts";
import { isOasDocument, oasToClassic } from "./oas.ts";

/** A petstore OpenAPI document with Tyk's `x-tyk-api-gateway` extension. */
function petstore(): Record<string, unknown> {
  return {
    openapi: "3.0.3",
    info: { title: "petstore", version: "1.0" },
    paths: {
      "/pets": { get: { operationId: "listPets", responses: { "200": { description: "ok" } } } },
    },
    components: { securitySchemes: { authToken: { type: "apiKey", in: "header", name: "Authorization" } } },
    security: [{ authToken: [] }],
    "x-tyk-api-gateway": {
      info: { id: "pets", name: "petstore", state: { active: true } },
      upstream: { url: "http://upstream:9000" },
      server: {
        listenPath: { value: "/pets-api/", strip: true },
        authentication: { enabled: true, securitySchemes: { authToken: { enabled: true } } },
      },
      middleware: {
        global: {
          pluginConfig: { driver: "otto", data: { enabled: true, value: { foo: "bar" } } },
          prePlugins: [{ enabled: true, functionName: "preMw", path: "middleware/pre.js" }],
          postAuthenticationPlugins: [{
            enabled: true,
            functionName: "authMw",
            path: "middleware/post_auth.js",
          }],
          postPlugins: [{ enabled: true, functionName: "postMw", path: "middleware/post.js" }],
          responsePlugins: [{ enabled: true, functionName: "resMw", path: "middleware/res.js" }],
        },
        operations: {
          listPets: {
            virtualEndpoint: {
              enabled: true,
              functionName: "listPetsVE",
              path: "middleware/ve.js",
              requireSession: false,
            },
          },
        },
      },
    },
  };
}

// The tests edit the extension freely; a precise type would only restate the schema.
// deno-lint-ignore no-explicit-any
type Editable = Record<string, any>;

function xTyk(doc: Record<string, unknown>): Editable {
  return doc["x-tyk-api-gateway"] as Editable;
}

function convert(doc: unknown) {
  return parseApiDefinition(oasToClassic(doc, "/x/apps/pets.json"), "/x/apps/pets.json");
}

Deno.test("isOasDocument() tells Tyk OAS documents from classic definitions", () => {
  assert.equal(isOasDocument(petstore()), true);
  assert.equal(isOasDocument({ openapi: "3.0.3", info: {} }), false);
  assert.equal(isOasDocument({ api_id: "a", proxy: {} }), false);
  assert.equal(isOasDocument([petstore()]), false);
});

Deno.test("oasToClassic() converts a petstore example", () => {
  const def = convert(petstore());
  assert.equal(def.is_oas, true);
  assert.equal(def.api_id, "pets");
  assert.equal(def.name, "petstore");
  assert.equal(def.active, true);
  assert.equal(def.proxy.listen_path, "/pets-api/");
  assert.equal(def.proxy.strip_listen_path, true);
  assert.equal(def.proxy.target_url, "http://upstream:9000");
  assert.equal(def.use_keyless, false);
  assert.equal(def.use_standard_auth, true);
  const auth = tokenAuthConfig(def);
  assert.equal(auth.auth_header_name, "Authorization");
  assert.equal(auth.disable_header, false);
  assert.equal(auth.use_param, false);
  assert.equal(def.custom_middleware.driver, "otto");
  const hook = (name: string, path: string) => ({
    name,
    path,
    code: "",
    raw_body_only: false,
    require_session: false,
    disabled: false,
  });
  assert.deepEqual(def.custom_middleware.pre, [hook("preMw", "middleware/pre.js")]);
  assert.deepEqual(def.custom_middleware.post_key_auth, [hook("authMw", "middleware/post_auth.js")]);
  assert.deepEqual(def.custom_middleware.post, [hook("postMw", "middleware/post.js")]);
  assert.deepEqual(def.custom_middleware.response, [hook("resMw", "middleware/res.js")]);
  assert.deepEqual(def.config_data, { foo: "bar" });
  assert.equal(def.config_data_disabled, false);
  assert.equal(def.version_data.not_versioned, true);
  assert.deepEqual(def.version_data.versions.Default.extended_paths.virtual, [{
    response_function_name: "listPetsVE",
    function_source_type: "file",
    function_source_uri: "middleware/ve.js",
    path: "/pets",
    method: "GET",
    use_session: false,
    proxy_on_error: false,
    disabled: false,
  }]);
});

Deno.test("oasToClassic() disables config_data when pluginConfig.data is missing", () => {
  const doc = petstore();
  delete xTyk(doc).middleware.global.pluginConfig.data;
  const def = convert(doc);
  assert.equal(def.config_data_disabled, true);
  assert.equal(def.config_data, null);
  xTyk(doc).middleware.global.pluginConfig.data = { enabled: false, value: { foo: "bar" } };
  assert.equal(convert(doc).config_data_disabled, true);
});

Deno.test("oasToClassic() reads the legacy singular plugin forms and inline virtual endpoints", () => {
  const doc = petstore();
  const global = xTyk(doc).middleware.global;
  delete global.prePlugins;
  global.prePlugin = {
    plugins: [{ enabled: false, functionName: "old", path: "old.js", rawBodyOnly: true }],
  };
  xTyk(doc).middleware.operations.listPets.virtualEndpoint = {
    enabled: true,
    name: "legacyName",
    body: "ZnVuY3Rpb24gZigpIHt9",
    path: "ignored.js",
    proxyOnError: true,
    requireSession: true,
  };
  const def = convert(doc);
  assert.deepEqual(def.custom_middleware.pre, [
    { name: "old", path: "old.js", code: "", raw_body_only: true, require_session: false, disabled: true },
  ]);
  const [ve] = def.version_data.versions.Default.extended_paths.virtual;
  assert.equal(ve.response_function_name, "legacyName");
  assert.equal(ve.function_source_type, "blob");
  assert.equal(ve.function_source_uri, "ZnVuY3Rpb24gZigpIHt9");
  assert.equal(ve.proxy_on_error, true);
  assert.equal(ve.use_session, true);
});

Deno.test("oasToClassic() maps auth sources, custom auth, allow/block/ignore, events and rate limit", () => {
  const doc = petstore();
  doc.components = { securitySchemes: { key: { type: "apiKey", in: "query", name: "api_key" } } };
  doc.security = [{ key: [] }];
  doc.paths = {
    "/pets/{id}": { get: { operationId: "getPet" }, delete: { operationId: "deletePet" } },
    "/health": { get: { operationId: "health" } },
  };
  const x = xTyk(doc);
  x.server.authentication = {
    enabled: true,
    stripAuthorizationData: true,
    securitySchemes: { key: { enabled: true, cookie: { enabled: true, name: "session" } } },
    custom: {
      enabled: true,
      config: { enabled: true, functionName: "myAuth", path: "auth.js", requireSession: true },
    },
  };
  x.server.eventHandlers = [
    {
      enabled: true,
      trigger: "AuthFailure",
      type: "custom",
      id: "h1",
      name: "n",
      functionName: "onFail",
      path: "ev.js",
    },
    { enabled: false, trigger: "AuthFailure", type: "log", logPrefix: "audit" },
    {
      enabled: true,
      trigger: "QuotaExceeded",
      type: "webhook",
      url: "http://hook/",
      method: "POST",
      cooldownPeriod: "1m30s",
      headers: [{ name: "X-A", value: "1" }],
    },
  ];
  x.upstream.rateLimit = { enabled: true, rate: 10, per: "1m" };
  x.middleware.operations = {
    getPet: { allow: { enabled: true } },
    deletePet: { block: { enabled: true, ignoreCase: true } },
    health: { ignoreAuthentication: { enabled: true } },
  };
  const def = convert(doc);
  const auth = tokenAuthConfig(def);
  assert.deepEqual(
    [auth.use_param, auth.param_name, auth.use_cookie, auth.cookie_name, auth.disable_header],
    [true, "api_key", true, "session", true],
  );
  assert.equal(def.strip_auth_data, true);
  assert.equal(def.custom_plugin_auth_enabled, true);
  assert.equal(def.custom_middleware.auth_check.name, "myAuth");
  assert.equal(def.custom_middleware.auth_check.require_session, true);
  assert.equal(def.custom_middleware.auth_check.disabled, false);
  const paths = def.version_data.versions.Default.extended_paths;
  assert.deepEqual(paths.white_list, [
    { path: "/pets/{id}", method: "GET", disabled: false, ignore_case: false, method_actions: {} },
  ]);
  assert.deepEqual(paths.black_list, [
    { path: "/pets/{id}", method: "DELETE", disabled: false, ignore_case: true, method_actions: {} },
  ]);
  assert.deepEqual(paths.ignored.map((e) => e.path), ["/health"]);
  assert.deepEqual(def.event_handlers.events.AuthFailure, [
    {
      handler_name: "eh_dynamic_handler",
      handler_meta: { disabled: false, id: "h1", name: "onFail", path: "ev.js" },
    },
    { handler_name: "eh_log_handler", handler_meta: { disabled: true, id: "", name: "", prefix: "audit" } },
  ]);
  const [hook] = def.event_handlers.events.QuotaExceeded;
  assert.equal(hook.handler_name, "eh_web_hook_handler");
  assert.deepEqual(
    [
      hook.handler_meta.target_path,
      hook.handler_meta.method,
      hook.handler_meta.event_timeout,
      hook.handler_meta.header_map,
    ],
    ["http://hook/", "POST", 90, { "X-A": "1" }],
  );
  assert.deepEqual(def.global_rate_limit, { rate: 10, per: 60, disabled: false });
});

Deno.test("oasToClassic() honours only schemes referenced from the first security requirement", () => {
  const doc = petstore();
  doc.security = [];
  const def = convert(doc);
  assert.equal(def.use_keyless, false);
  assert.equal(def.use_standard_auth, false);
  assert.deepEqual(def.auth_configs, {});
});

Deno.test("oasToClassic() names the OAS field a document lacks or mistypes", () => {
  const failure = (edit: (x: Editable) => void) => {
    const doc = petstore();
    edit(xTyk(doc));
    try {
      oasToClassic(doc, "/x/apps/pets.json");
    } catch (err) {
      assert.equal((err as Error).name, "ApiDefinitionError");
      return (err as Error).message.replace("Cannot load API from /x/apps/pets.json: ", "");
    }
    assert.fail("expected an ApiDefinitionError");
  };
  assert.equal(failure((x) => delete x.info.id), "x-tyk-api-gateway.info.id is empty");
  assert.equal(
    failure((x) => delete x.server.listenPath),
    "x-tyk-api-gateway.server.listenPath.value is empty",
  );
  assert.equal(failure((x) => (x.upstream.url = "")), "x-tyk-api-gateway.upstream.url is empty");
  assert.equal(
    failure((x) => (x.server.listenPath.strip = "yes")),
    'x-tyk-api-gateway.server.listenPath.strip must be true or false, got "yes"',
  );
  assert.equal(
    failure((x) => (x.upstream.rateLimit = { enabled: true, rate: 1, per: "soon" })),
    'x-tyk-api-gateway.upstream.rateLimit.per must be a duration like "1m", got "soon"',
  );
  assert.throws(() => oasToClassic({ openapi: "3.0.3" }, "a.json"), {
    message: "Cannot load API from a.json: the OpenAPI document has no x-tyk-api-gateway object",
  });
});
