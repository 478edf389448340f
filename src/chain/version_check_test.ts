import assert from "node:assert/strict";
import { parseApiDefinition } from "../config/api_definition.ts";
import type { RequestCtx } from "./context.ts";
import { GatewayError } from "./errors.ts";
import { createVersionCheck, parseTykExpiry } from "./version_check.ts";

function def(extra: Record<string, unknown>) {
  return parseApiDefinition({
    api_id: "v",
    org_id: "o",
    proxy: { listen_path: "/v/", target_url: "http://u/" },
    ...extra,
  }, "test");
}

function ctx(path: string, init: { method?: string; headers?: Record<string, string>; query?: string } = {}) {
  return {
    path,
    query: init.query ?? "",
    method: init.method ?? "GET",
    listenPath: "/v/",
    headers: new Headers(init.headers),
    ignored: false,
    versionName: "",
  } as RequestCtx;
}

function message(out: unknown): string | undefined {
  return out instanceof GatewayError ? `${out.status} ${out.message}` : undefined;
}

Deno.test("createVersionCheck() is null for one plain version", () => {
  assert.equal(
    createVersionCheck(def({ version_data: { not_versioned: true, versions: { "": {} } } })),
    null,
  );
});

Deno.test("createVersionCheck() enforces black_list, white_list and ignored endpoints", () => {
  const step = createVersionCheck(def({
    version_data: {
      not_versioned: true,
      versions: {
        Default: {
          use_extended_paths: true,
          extended_paths: {
            ignored: [{ path: "/health", method: "GET" }],
            black_list: [{ path: "/admin/{id}", method: "DELETE" }],
            white_list: [{ path: "/users", method: "GET" }, { path: "/admin/{id}", method: "DELETE" }],
          },
        },
      },
    },
  }))!;
  assert.equal(message(step(ctx("/v/admin/3", { method: "DELETE" }))), "403 Requested endpoint is forbidden");
  assert.equal(message(step(ctx("/v/other"))), "403 Requested endpoint is forbidden");
  assert.equal(step(ctx("/v/users")), undefined);
  const health = ctx("/v/health");
  assert.equal(step(health), undefined);
  assert.equal(health.ignored, true);
});

Deno.test("createVersionCheck() resolves header versions and refuses unknown or missing ones", () => {
  const step = createVersionCheck(def({
    definition: { location: "header", key: "version" },
    version_data: { not_versioned: false, versions: { v1: {}, v2: { expires: "2000-01-01 00:00" } } },
  }))!;
  const ok = ctx("/v/x", { headers: { version: "v1" } });
  assert.equal(step(ok), undefined);
  assert.equal(ok.versionName, "v1");
  assert.equal(message(step(ctx("/v/x"))), "403 Version information not found");
  assert.equal(
    message(step(ctx("/v/x", { headers: { version: "v9" } }))),
    "403 This API version does not seem to exist",
  );
  assert.match(message(step(ctx("/v/x", { headers: { version: "v2" } })))!, /^403 Api Version has expired/);
});

Deno.test("createVersionCheck() refuses an ambiguous or missing default of a non-versioned API", () => {
  const ambiguous = createVersionCheck(
    def({ version_data: { not_versioned: true, versions: { Default: {}, default: {} } } }),
  )!;
  assert.equal(
    message(ambiguous(ctx("/v/"))),
    "403 Ambiguous default API version for this non-versioned API",
  );
  const none = createVersionCheck(
    def({ version_data: { not_versioned: true, versions: { a: {}, b: {} } } }),
  )!;
  assert.equal(message(none(ctx("/v/"))), "403 No default API version for this non-versioned API found");
});

Deno.test("parseTykExpiry() reads Tyk's layout and treats empty and -1 as never", () => {
  assert.equal(parseTykExpiry("2030-01-02 15:04"), Date.UTC(2030, 0, 2, 15, 4));
  assert.equal(parseTykExpiry(""), Infinity);
  assert.equal(parseTykExpiry("-1"), Infinity);
});

Deno.test("createVersionCheck() answers a method_actions reply for its method, in any list", async () => {
  const step = createVersionCheck(def({
    version_data: {
      not_versioned: true,
      versions: {
        Default: {
          use_extended_paths: true,
          extended_paths: {
            black_list: [{
              path: "/mock",
              method_actions: {
                GET: { action: "reply", code: 0, data: "<b>hi</b>", headers: { "x-a": "1" } },
              },
            }],
          },
        },
      },
    },
  }))!;
  const res = step(ctx("/v/mock"));
  assert.ok(res instanceof Response);
  assert.equal(res.status, 200, "a reply without a code answers 200");
  assert.equal(res.headers.get("x-a"), "1");
  assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
  assert.equal(await res.text(), "<b>hi</b>");
  assert.equal(step(ctx("/v/mock", { method: "POST" })), undefined, "no action for POST: not listed");
});
