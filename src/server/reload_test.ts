import assert from "node:assert/strict";
import { join } from "node:path";
import { testCtx, withServices } from "../chain/_test_ctx.ts";
import { parseGatewayConfig } from "../config/gateway_config.ts";
import { captureLog } from "../capture_log.ts";
import { KeyStore } from "../keys/key_store.ts";
import { openEmbeddedStore } from "../store/embedded.ts";
import { UpstreamClient } from "../upstream/client.ts";
import { withDir } from "../../tests/support/temp_dir.ts";
import { ApiReloader } from "./reload.ts";

const tagger = (version: string) =>
  `var tagger = new TykJS.TykMiddleware.NewMiddleware({});
tagger.NewProcessRequest(function (request, session, spec) {
  request.SetHeaders["X-Version"] = "${version}";
  return tagger.ReturnData(request, {});
});
`;

/** A reloader over `dir` (tyk.conf's folder) with one keyless API whose pre hook comes from the directory loader. */
async function reloaderIn(dir: string, log = captureLog()) {
  await Deno.mkdir(join(dir, "apps"));
  await Deno.mkdir(join(dir, "middleware/tagged/pre"), { recursive: true });
  await Deno.writeTextFile(
    join(dir, "apps/tagged.json"),
    JSON.stringify({
      api_id: "tagged",
      org_id: "default",
      name: "tagged",
      use_keyless: true,
      version_data: { not_versioned: true, versions: { Default: { name: "Default" } } },
      proxy: { listen_path: "/tagged/", target_url: "http://127.0.0.1:1", strip_listen_path: true },
      custom_middleware: { driver: "otto" },
    }),
  );
  const config = parseGatewayConfig(
    { app_path: "apps", middleware_path: "middleware", enable_jsvm: true },
    join(dir, "tyk.conf"),
  );
  const store = await openEmbeddedStore(join(dir, "data"));
  const upstream = new UpstreamClient();
  const reloader = new ApiReloader({
    config,
    baseDir: dir,
    keyStore: new KeyStore(store),
    upstream,
    store,
    eventContext: { store, upstream, log, templatePath: dir, baseDir: dir, ignoreCanonical: false },
    log,
  });
  return {
    reloader,
    log,
    /** The X-Version the API's pre hook sets now. */
    async version() {
      const ctx = testCtx("http://gw/tagged/");
      await reloader.current().byId.get("tagged")!.chain.steps.find((step) =>
        step.name === "jsRequestHooks"
      )!(ctx);
      return ctx.headers.get("x-version");
    },
    async [Symbol.asyncDispose]() {
      await reloader.close();
      upstream.close();
      await store.close();
    },
  };
}

Deno.test("ApiReloader.reload() reads the files again when a watched file changed while it read them", async () => {
  await withDir(async (dir) => {
    await using gateway = await reloaderIn(dir);
    const plugin = join(dir, "middleware/tagged/pre/tagger.js");
    await Deno.writeTextFile(plugin, tagger("1"));
    let looks = 0;
    gateway.reloader.followFileChanges(() => {
      looks++;
      // the first read is done: the plugin changed meanwhile (an editor wrote it while it was read)
      if (looks === 2) Deno.writeTextFileSync(plugin, tagger("2"));
      return looks >= 2 ? 1 : 0;
    });
    await gateway.reloader.reload();
    assert.equal(await gateway.version(), "2");
    assert.equal(gateway.log.lines.filter((line) => line.msg.includes("reading them again")).length, 1);
  });
});

/** A classic keyless definition listening on `/<id>/`. */
function api(id: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    api_id: id,
    org_id: "org-1",
    use_keyless: true,
    proxy: { listen_path: `/${id}/`, target_url: "http://127.0.0.1:1" },
    ...extra,
  });
}

function reloadLines(log: { lines: { msg: string }[] }): number {
  return log.lines.filter((line) => line.msg === "API reload complete").length;
}

Deno.test("ApiReloader.reload() serves every definition in app_path, routed by listen path", async () => {
  await withServices(async (services, dir) => {
    await Deno.writeTextFile(join(dir, "apps/one.json"), api("one"));
    await Deno.writeTextFile(join(dir, "apps/two.json"), api("two"));
    const reloader = new ApiReloader(services);
    assert.equal(reloader.succeeded, false);
    const report = await reloader.reload();
    assert.deepEqual(report.loaded.sort(), ["one", "two"]);
    assert.deepEqual(report.errors, []);
    assert.equal(reloader.succeeded, true);
    assert.equal(reloader.current().router.match("/two/x")?.api.apiId, "two");
    assert.equal(reloader.current().byId.get("one")?.listenPath, "/one/");
    await reloader.close();
  });
});

Deno.test("ApiReloader.reload() keeps an unchanged API's handle and swaps a changed one", async () => {
  await withServices(async (services, dir) => {
    await Deno.writeTextFile(join(dir, "apps/one.json"), api("one"));
    await Deno.writeTextFile(join(dir, "apps/two.json"), api("two"));
    const reloader = new ApiReloader(services);
    await reloader.reload();
    const before = reloader.current();
    await Deno.writeTextFile(join(dir, "apps/two.json"), api("two", { strip_auth_data: true }));
    await reloader.reload();
    const after = reloader.current();
    assert.notEqual(after, before, "a new set, swapped as one reference");
    assert.equal(after.byId.get("one"), before.byId.get("one"));
    assert.notEqual(after.byId.get("two"), before.byId.get("two"));
    assert.equal(after.byId.get("two")?.def.strip_auth_data, true);
    await reloader.close();
  });
});

Deno.test("ApiReloader.reload() keeps serving the last good version of a definition that broke", async () => {
  await withServices(async (services, dir) => {
    await Deno.writeTextFile(join(dir, "apps/one.json"), api("one"));
    const reloader = new ApiReloader(services);
    await reloader.reload();
    const good = reloader.current().byId.get("one");
    await Deno.writeTextFile(join(dir, "apps/one.json"), "{ not json");
    const report = await reloader.reload();
    assert.equal(report.errors.length, 1);
    assert.equal(report.errors[0].file, join(dir, "apps/one.json"));
    assert.deepEqual(report.loaded, ["one"]);
    assert.equal(reloader.current().byId.get("one"), good);
    assert.ok(services.log.lines.some((line) => line.msg.endsWith("still serving its last good version")));
    await reloader.close();
  });
});

Deno.test("ApiReloader.reload() called during a reload shares one more run", async () => {
  await withServices(async (services, dir) => {
    await Deno.writeTextFile(join(dir, "apps/one.json"), api("one"));
    const reloader = new ApiReloader(services);
    const first = reloader.reload();
    const second = reloader.reload();
    const third = reloader.reload();
    assert.notEqual(first, second);
    assert.equal(second, third);
    await Promise.all([first, second, third]);
    assert.equal(reloadLines(services.log), 2);
    await reloader.reload();
    assert.equal(reloadLines(services.log), 3, "a reload after the others is a run of its own");
    await reloader.close();
  });
});
