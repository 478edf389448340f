import assert from "node:assert/strict";
import { join } from "node:path";
import { captureLog } from "../../capture_log.ts";
import { testDefinition } from "../_test_ctx.ts";
import { collectVirtualEndpoints } from "./virtual_sources.ts";
import { base64 } from "../../../tests/support/base64.ts";
import { withDir } from "../../../tests/support/temp_dir.ts";

function definition(virtual: Record<string, unknown>[], useExtendedPaths = true) {
  return testDefinition({
    version_data: {
      not_versioned: true,
      versions: { Default: { use_extended_paths: useExtendedPaths, extended_paths: { virtual } } },
    },
  });
}

function entry(fn: string, extra: Record<string, unknown>) {
  return { path: `/${fn}`, method: "GET", response_function_name: fn, ...extra };
}

Deno.test("collectVirtualEndpoints() reads file sources once and decodes blobs", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(join(dir, "ve.js"), "function a() {} function b() {}");
    const found = await collectVirtualEndpoints(
      definition([
        entry("a", { function_source_type: "file", function_source_uri: "ve.js", use_session: true }),
        entry("b", { function_source_type: "file", function_source_uri: join(dir, "ve.js"), method: "POST" }),
        entry("c", { function_source_type: "blob", function_source_uri: base64("function c() {}") }),
        entry("off", { function_source_type: "file", function_source_uri: "gone.js", disabled: true }),
      ]),
      { baseDir: dir, disableBlobs: false, log: captureLog() },
    );
    assert.deepEqual(found.issues, []);
    assert.deepEqual(found.sources, [
      {
        file: join(dir, "ve.js"),
        code: "function a() {} function b() {}",
        names: ["a", "b"],
        kind: "virtual",
      },
      { file: "__virtual__/api-1/Default/2/c", code: "function c() {}", names: ["c"], kind: "virtual" },
    ]);
    assert.deepEqual(
      found.endpoints.map((e) => [e.name, e.method, e.path, e.useSession, e.version]),
      [["a", "GET", "/a", true, "Default"], ["b", "POST", "/b", false, "Default"], [
        "c",
        "GET",
        "/c",
        false,
        "Default",
      ]],
    );
  });
});

Deno.test("collectVirtualEndpoints() reports sources that cannot load, naming the field", async () => {
  await withDir(async (dir) => {
    const found = await collectVirtualEndpoints(
      definition([
        entry("a", { function_source_type: "file", function_source_uri: "missing.js" }),
        entry("b", { function_source_type: "blob", function_source_uri: "%%%" }),
        entry("c", { function_source_type: "url", function_source_uri: "http://x" }),
        entry("d", { function_source_type: "blob", function_source_uri: base64("function d() {}") }),
      ]),
      { baseDir: dir, disableBlobs: true, log: captureLog() },
    );
    assert.deepEqual(found.sources, []);
    assert.equal(found.endpoints.length, 4, "their endpoints stay, to answer 500 (or proxy)");
    assert.deepEqual(found.issues.map((i) => i.message), [
      "Cannot load version_data.versions.Default.extended_paths.virtual[0]: cannot read function_source_uri missing.js: no such file",
      "Cannot load version_data.versions.Default.extended_paths.virtual[1]: blobs are not allowed on this node (disable_virtual_path_blobs)",
      'Cannot load version_data.versions.Default.extended_paths.virtual[2]: function_source_type must be "file" or "blob", got "url"',
      "Cannot load version_data.versions.Default.extended_paths.virtual[3]: blobs are not allowed on this node (disable_virtual_path_blobs)",
    ]);
  });
});

Deno.test("collectVirtualEndpoints() leaves out, with a warning, what Tyk never matches", async () => {
  const log = captureLog();
  const blob = { function_source_type: "blob", function_source_uri: base64("function a() {}") };
  const noExtendedPaths = await collectVirtualEndpoints(definition([entry("a", blob)], false), {
    baseDir: "/",
    disableBlobs: false,
    log,
  });
  assert.deepEqual(noExtendedPaths.endpoints, []);
  const noMethod = await collectVirtualEndpoints(definition([entry("a", { ...blob, method: "" })]), {
    baseDir: "/",
    disableBlobs: false,
    log,
  });
  assert.deepEqual(noMethod.endpoints, []);
  assert.deepEqual(log.lines.map((l) => l.level), ["warn", "warn"]);
  assert.match(log.lines[0].msg, /use_extended_paths is false/);
  assert.match(log.lines[1].msg, /method is empty/);
});
