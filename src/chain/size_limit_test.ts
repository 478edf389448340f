import assert from "node:assert/strict";
import { testCtx, testDefinition } from "./_test_ctx.ts";
import { GatewayError, MESSAGES } from "./errors.ts";
import { createSizeLimit } from "./size_limit.ts";

function api(version: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return testDefinition({
    version_data: { not_versioned: true, versions: { Default: { name: "Default", ...version } } },
    ...extra,
  });
}

const post = (path: string, length: number | null, method = "POST") => {
  return testCtx(`http://gw${path}`, {
    method,
    headers: length === null ? {} : { "content-length": String(length) },
  });
};

function outcome(result: unknown): string {
  if (result === undefined) return "pass";
  assert.ok(result instanceof GatewayError);
  return `${result.status} ${result.message}`;
}

Deno.test("createSizeLimit() is null when no version sets a limit", () => {
  assert.equal(createSizeLimit(api({})), null);
  assert.equal(createSizeLimit(api({ global_size_limit: 10, global_size_limit_disabled: true })), null);
});

Deno.test("createSizeLimit() holds the stated Content-Length to global_size_limit: 400 over it, 411 without it", () => {
  const step = createSizeLimit(api({ global_size_limit: 10 }))!;
  assert.equal(outcome(step(post("/x", 10))), "pass");
  assert.equal(outcome(step(post("/x", 11))), `400 ${MESSAGES.requestTooLarge}`);
  assert.equal(outcome(step(post("/x", null))), `411 ${MESSAGES.contentLengthRequired}`);
});

Deno.test("createSizeLimit() lets GET, DELETE, TRACE, OPTIONS and HEAD through unchecked", () => {
  const step = createSizeLimit(api({ global_size_limit: 10 }))!;
  for (const method of ["GET", "DELETE", "OPTIONS", "HEAD"]) {
    assert.equal(outcome(step(post("/x", null, method))), "pass", method);
  }
  assert.equal(outcome(step(post("/x", null, "PUT"))), `411 ${MESSAGES.contentLengthRequired}`);
});

Deno.test("createSizeLimit() applies the first size_limits entry whose path and exact method match", () => {
  const step = createSizeLimit(api({
    extended_paths: {
      size_limits: [
        { path: "/upload/{id}", method: "PUT", size_limit: 5 },
        { path: "/upload", method: "POST", size_limit: 100, disabled: true },
        { path: "/upload", method: "", size_limit: 1 },
        { path: "/upload", method: "POST", size_limit: 20 },
      ],
    },
  }))!;
  assert.equal(outcome(step(post("/upload/7", 6, "PUT"))), `400 ${MESSAGES.requestTooLarge}`);
  assert.equal(outcome(step(post("/upload/7", 5, "PUT"))), "pass");
  assert.equal(outcome(step(post("/upload", 20))), "pass", "disabled and method-less entries never apply");
  assert.equal(outcome(step(post("/upload", 21))), `400 ${MESSAGES.requestTooLarge}`);
  assert.equal(outcome(step(post("/other", null))), "pass", "no entry matches: no length needed");
});

Deno.test("createSizeLimit() checks global_size_limit before a path's own limit", () => {
  const step = createSizeLimit(api({
    global_size_limit: 10,
    extended_paths: { size_limits: [{ path: "/big", method: "POST", size_limit: 100 }] },
  }))!;
  assert.equal(outcome(step(post("/big", 50))), `400 ${MESSAGES.requestTooLarge}`);
});

Deno.test("createSizeLimit() uses the limits of the version the request resolved to", () => {
  const step = createSizeLimit(testDefinition({
    version_data: {
      not_versioned: false,
      versions: { v1: { name: "v1", global_size_limit: 10 }, v2: { name: "v2" } },
    },
  }))!;
  const v1 = post("/x", 11);
  v1.versionName = "v1";
  const v2 = post("/x", 11);
  v2.versionName = "v2";
  assert.equal(outcome(step(v1)), `400 ${MESSAGES.requestTooLarge}`);
  assert.equal(outcome(step(v2)), "pass");
});
