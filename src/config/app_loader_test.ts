import assert from "node:assert/strict";
import { join } from "node:path";
import { loadApiDefinitions } from "./app_loader.ts";
import { withDir } from "../../tests/support/temp_dir.ts";

function classic(apiId: string, listenPath: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    api_id: apiId,
    name: apiId,
    use_keyless: true,
    proxy: { listen_path: listenPath, target_url: "http://upstream:9000/" },
    ...extra,
  });
}

function oasDocument(apiId: string, listenPath: string): string {
  return JSON.stringify({
    openapi: "3.0.3",
    info: { title: apiId, version: "1" },
    paths: {},
    "x-tyk-api-gateway": {
      info: { id: apiId, name: apiId, state: { active: true } },
      upstream: { url: "http://upstream:9000" },
      server: { listenPath: { value: listenPath } },
    },
  });
}

function withAppDir(files: Record<string, string>, run: (dir: string) => Promise<void>): Promise<void> {
  return withDir(async (dir) => {
    for (const [name, text] of Object.entries(files)) await Deno.writeTextFile(join(dir, name), text);
    await run(dir);
  });
}

Deno.test("loadApiDefinitions() loads good files in name order and reports each bad one", async () => {
  await withAppDir({
    "b.json": classic("b", "/b/"),
    "a.json": classic("a", "/a/"),
    "broken.json": '{"api_id": "x",',
    "no-target.json": classic("t", "/t/", { proxy: { listen_path: "/t/", target_url: "foo" } }),
    "dup.json": classic("a", "/a-again/"),
    "readme.txt": "not an API",
  }, async (dir) => {
    const { apis, errors } = await loadApiDefinitions(dir);
    assert.deepEqual(apis.map((api) => [api.file, api.def.api_id, api.def.proxy.listen_path]), [
      [join(dir, "a.json"), "a", "/a/"],
      [join(dir, "b.json"), "b", "/b/"],
    ]);
    assert.deepEqual(errors, [
      {
        file: join(dir, "broken.json"),
        message: `Cannot load API from ${join(dir, "broken.json")}: not valid JSON ` +
          "(Expected double-quoted property name at line 1 column 16)",
      },
      {
        file: join(dir, "dup.json"),
        message: `Cannot load API from ${join(dir, "dup.json")}: api_id "a" is already used by ${
          join(dir, "a.json")
        }`,
      },
      {
        file: join(dir, "no-target.json"),
        message:
          `Cannot load API from ${join(dir, "no-target.json")}: proxy.target_url must be an absolute ` +
          'http(s) URL, got "foo"',
      },
    ]);
  });
});

Deno.test("loadApiDefinitions() skips an -oas.json companion and attaches it to its twin", async () => {
  await withAppDir({
    "pets.json": classic("pets", "/pets/", { is_oas: true }),
    "pets-oas.json": oasDocument("pets", "/pets/"),
  }, async (dir) => {
    const { apis, errors } = await loadApiDefinitions(dir);
    assert.deepEqual(errors, []);
    assert.equal(apis.length, 1);
    assert.equal(apis[0].file, join(dir, "pets.json"));
    assert.equal(apis[0].def.is_oas, true);
    assert.equal((apis[0].oas as { openapi: string }).openapi, "3.0.3");
  });
});

Deno.test("loadApiDefinitions() converts a lone Tyk OAS file", async () => {
  await withAppDir({ "lone-oas.json": oasDocument("lone", "/lone/") }, async (dir) => {
    const { apis, errors } = await loadApiDefinitions(dir);
    assert.deepEqual(errors, []);
    assert.equal(apis.length, 1);
    assert.equal(apis[0].def.api_id, "lone");
    assert.equal(apis[0].def.is_oas, true);
    assert.ok(apis[0].oas);
  });
});

Deno.test("loadApiDefinitions() substitutes references with the given env and secrets", async () => {
  await withAppDir({
    "a.json": classic("a", "/a/", {
      proxy: { listen_path: "/a/", target_url: "env://UPSTREAM_URL" },
      config_data: { key: "secrets://api-key" },
    }),
  }, async (dir) => {
    const { apis } = await loadApiDefinitions(dir, {
      env: { UPSTREAM_URL: "http://from-env:1234/" },
      secrets: { "api-key": "k" },
    });
    assert.equal(apis[0].def.proxy.target_url, "http://from-env:1234/");
    assert.deepEqual(apis[0].def.config_data, { key: "k" });
  });
});

Deno.test("loadApiDefinitions() reports a missing app_path as one error", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.remove(dir);
  const { apis, errors } = await loadApiDefinitions(dir);
  assert.deepEqual(apis, []);
  assert.deepEqual(errors, [{ file: dir, message: `Cannot read app_path ${dir}: folder not found` }]);
});
