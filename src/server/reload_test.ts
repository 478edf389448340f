import assert from "node:assert/strict";
import { join } from "node:path";
import { testCtx } from "../chain/_test_ctx.ts";
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
