import assert from "node:assert/strict";
import {
  type ApiDefinition,
  ApiDefinitionError,
  parseApiDefinition,
  parseApiDefinitionText,
  tokenAuthConfig,
} from "./api_definition.ts";

/** Tyk's `apps/quickstart.json`. */
const QUICKSTART = {
  name: "Tyk Test API",
  api_id: "3",
  org_id: "default",
  definition: { location: "", key: "" },
  use_keyless: true,
  auth: { auth_header_name: "" },
  version_data: {
    not_versioned: true,
    versions: {
      Default: {
        name: "Default",
        expires: "3000-01-02 15:04",
        use_extended_paths: true,
        extended_paths: { ignored: [], white_list: [], black_list: [] },
      },
    },
  },
  proxy: { listen_path: "/quickstart/", target_url: "http://httpbin.org/", strip_listen_path: true },
  do_not_track: true,
};

function withProxy(proxy: Record<string, unknown>, extra: Record<string, unknown> = {}): unknown {
  return { ...QUICKSTART, ...extra, proxy: { ...QUICKSTART.proxy, ...proxy } };
}

function loadError(json: unknown): string {
  try {
    parseApiDefinition(json, "/x/apps/a.json", { env: {} });
  } catch (err) {
    assert.ok(err instanceof ApiDefinitionError);
    assert.equal(err.name, "ApiDefinitionError");
    return err.message;
  }
  assert.fail("expected an ApiDefinitionError");
}

Deno.test("parseApiDefinition() reads Tyk's quickstart API with defaults applied", () => {
  const def: ApiDefinition = parseApiDefinition(QUICKSTART, "quickstart.json");
  assert.equal(def.api_id, "3");
  assert.equal(def.use_keyless, true);
  assert.equal(def.proxy.listen_path, "/quickstart/");
  assert.equal(def.proxy.strip_listen_path, true);
  assert.equal(def.auth.auth_header_name, "Authorization");
  assert.equal(def.definition.key, "x-api-version");
  assert.equal(def.config_data, null);
  assert.equal(def.is_oas, false);
  const version = def.version_data.versions.Default;
  assert.equal(version.expires, "3000-01-02 15:04");
  assert.deepEqual(version.extended_paths.virtual, []);
  assert.deepEqual(version.paths, { ignored: [], white_list: [], black_list: [] });
  assert.deepEqual(def.custom_middleware.pre, []);
  assert.deepEqual(def.event_handlers, { events: {} });
});

Deno.test("parseApiDefinition() normalises the listen path like Tyk's loader", () => {
  const listenPath = (value: string) =>
    parseApiDefinition(withProxy({ listen_path: value }), "a.json").proxy.listen_path;
  assert.equal(listenPath("quickstart"), "/quickstart");
  assert.equal(listenPath("quickstart/"), "/quickstart/");
  assert.equal(listenPath("//a/./b/../c//"), "/a/c/");
  assert.equal(listenPath("/"), "/");
  assert.equal(listenPath("/users/{id}"), "/users/{id}");
});

Deno.test("parseApiDefinition() names the source and the field of a definition it refuses", () => {
  const cases: [unknown, string][] = [
    [withProxy({ listen_path: "" }), "proxy.listen_path is empty"],
    [withProxy({ listen_path: "/a b/" }), 'proxy.listen_path must not contain a space, got "/a b/"'],
    [withProxy({ target_url: "foo" }), 'proxy.target_url must be an absolute http(s) URL, got "foo"'],
    [
      withProxy({ target_url: "ftp://x/" }),
      'proxy.target_url must be an absolute http(s) URL, got "ftp://x/"',
    ],
    [
      withProxy({ enable_load_balancing: true, target_list: ["http://a/", "b"] }),
      'proxy.target_list[1] must be an absolute http(s) URL, got "b"',
    ],
    [{ ...QUICKSTART, api_id: "" }, "api_id is empty"],
    [
      { ...QUICKSTART, api_id: "../etc" },
      'api_id must be usable as a file name (no "/", "\\", ".." or NUL), got "../etc"',
    ],
    [
      { ...QUICKSTART, api_id: "a/b" },
      'api_id must be usable as a file name (no "/", "\\", ".." or NUL), got "a/b"',
    ],
    [{ ...QUICKSTART, api_id: 3 }, "api_id must be a string, got 3"],
    [{ ...QUICKSTART, use_keyless: "yes" }, 'use_keyless must be true or false, got "yes"'],
    [
      { ...QUICKSTART, custom_middleware: { pre: [{ name: "x", require_session: 1 }] } },
      "custom_middleware.pre[0].require_session must be true or false, got 1",
    ],
    [
      { ...QUICKSTART, version_data: { versions: { v1: "x" } } },
      'version_data.versions.v1 must be an object, got "x"',
    ],
    ["not an object", 'the definition must be a JSON object, got "not an object"'],
  ];
  for (const [json, detail] of cases) {
    assert.equal(loadError(json), `Cannot load API from /x/apps/a.json: ${detail}`);
  }
});

Deno.test("parseApiDefinition() matches keys case-insensitively and ignores unknown ones", () => {
  const def = parseApiDefinition(
    {
      ...QUICKSTART,
      API_ID: "loud",
      Proxy: { Listen_Path: "/loud/", TARGET_URL: "http://up/" },
      id: "5e0fac4845bb46c77543be28",
      CORS: { enable: true },
      versions_data: {},
      version_data: {
        versions: {
          v1: { extended_paths: { transform_headers: [{ path: "/a" }], Virtual: [{ path: "/v" }] } },
        },
      },
    },
    "a.json",
  );
  assert.equal(def.api_id, "loud");
  assert.equal(def.proxy.listen_path, "/loud/");
  assert.equal(def.proxy.target_url, "http://up/");
  assert.ok(!("id" in def) && !("CORS" in def));
  const paths = def.version_data.versions.v1.extended_paths;
  assert.equal(paths.virtual[0].path, "/v");
  // members we do not model stay available for later steps
  assert.deepEqual(paths.transform_headers, [{ path: "/a" }]);
});

Deno.test("tokenAuthConfig() prefers auth_configs.authToken over the legacy auth block", () => {
  const legacy = parseApiDefinition(
    { ...QUICKSTART, auth: { auth_header_name: "x-key", use_param: true } },
    "a.json",
  );
  assert.equal(tokenAuthConfig(legacy).auth_header_name, "x-key");
  assert.equal(tokenAuthConfig(legacy).use_param, true);
  const both = parseApiDefinition(
    { ...QUICKSTART, auth: { auth_header_name: "x-key" }, auth_configs: { authToken: { use_cookie: true } } },
    "a.json",
  );
  assert.equal(tokenAuthConfig(both).use_cookie, true);
  assert.equal(tokenAuthConfig(both).auth_header_name, "Authorization");
});

Deno.test("parseApiDefinition() reads plugins, config_data and custom auth flags", () => {
  const def = parseApiDefinition(
    {
      ...QUICKSTART,
      enable_coprocess_auth: true,
      config_data: { foo: ["bar"] },
      custom_middleware: {
        driver: "otto",
        pre: [{ name: "pre", path: "middleware/pre.js" }],
        auth_check: { name: "auth", path: "middleware/auth.js", require_session: true },
      },
      event_handlers: {
        events: { AuthFailure: [{ handler_name: "eh_log_handler", handler_meta: { prefix: "p" } }] },
      },
    },
    "a.json",
  );
  assert.equal(def.custom_plugin_auth_enabled, true);
  assert.deepEqual(def.config_data, { foo: ["bar"] });
  assert.equal(def.custom_middleware.driver, "otto");
  assert.deepEqual(def.custom_middleware.pre, [
    {
      name: "pre",
      path: "middleware/pre.js",
      require_session: false,
      raw_body_only: false,
      disabled: false,
      code: "",
    },
  ]);
  assert.equal(def.custom_middleware.auth_check.require_session, true);
  assert.deepEqual(def.event_handlers.events.AuthFailure, [{
    handler_name: "eh_log_handler",
    handler_meta: { prefix: "p" },
  }]);
});

Deno.test("parseApiDefinition() substitutes env:// and secrets:// references", () => {
  const def = parseApiDefinition(
    withProxy({ target_url: "env://UPSTREAM" }, {
      config_data: { token: "secrets://tok", quoted: "env://QUOTED" },
    }),
    "a.json",
    { env: { UPSTREAM: "http://upstream:9000/", QUOTED: 'say "hi"' }, secrets: { tok: "t0k", t: "wrong" } },
  );
  assert.equal(def.proxy.target_url, "http://upstream:9000/");
  assert.deepEqual(def.config_data, { token: "t0k", quoted: 'say "hi"' });
  // an unset variable leaves the reference as Tyk does, so the URL check names it
  assert.equal(
    loadError(withProxy({ target_url: "env://NOPE" })),
    'Cannot load API from /x/apps/a.json: proxy.target_url must be an absolute http(s) URL, got "env://NOPE"',
  );
});

Deno.test("parseApiDefinitionText() reports JSON syntax errors with their position", () => {
  assert.throws(() => parseApiDefinitionText('{\n  "api_id": "a",\n}', "/x/apps/a.json"), {
    name: "ApiDefinitionError",
    message:
      "Cannot load API from /x/apps/a.json: not valid JSON (Expected double-quoted property name at line 3 column 1)",
  });
  assert.equal(parseApiDefinitionText(JSON.stringify(QUICKSTART), "q.json").api_id, "3");
});
