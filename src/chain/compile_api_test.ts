import assert from "node:assert/strict";
import { join } from "node:path";
import { testDefinition, withServices } from "./_test_ctx.ts";
import { canReuse, compileApi, readJsSources } from "./compile_api.ts";

const names = (steps: { name: string }[]) => steps.map((step) => step.name);

Deno.test("compileApi() gives a keyless API no auth or key steps, and no response steps", async () => {
  await withServices(async (services) => {
    const api = await compileApi("a.json", testDefinition({ use_keyless: true }), services);
    const steps = names(api.chain.steps);
    for (const keyed of ["tokenAuth", "keyChecks", "keyLimits"]) assert.ok(!steps.includes(keyed), keyed);
    assert.equal(api.chain.response.length, 0);
    assert.equal(typeof api.chain.proxy, "function");
    assert.deepEqual([api.apiId, api.orgId, api.listenPath, api.file], ["api-1", "org-1", "/a/", "a.json"]);
    assert.ok(!steps.includes("wakeSandbox"), "no JS step");
  });
});

Deno.test("compileApi() gives a keyed API token auth, then key checks, then the key's limits", async () => {
  await withServices(async (services) => {
    const api = await compileApi("a.json", testDefinition({ use_keyless: false }), services);
    const steps = names(api.chain.steps);
    const order = ["tokenAuth", "keyChecks", "keyLimits"].map((name) => steps.indexOf(name));
    assert.ok(order.every((at) => at >= 0), `steps: ${steps.join(", ")}`);
    assert.deepEqual(order, [...order].sort((a, b) => a - b), `steps: ${steps.join(", ")}`);
  });
});

Deno.test("compileApi() refuses a target_url it cannot parse", async () => {
  await withServices(async (services) => {
    const def = testDefinition({});
    def.proxy.target_url = "not a url"; // the parser refuses it; compileApi must too
    await assert.rejects(() => compileApi("a.json", def, services), TypeError);
  });
});

Deno.test("ApiHandle.close() waits until the last request on the handle left", async () => {
  await withServices(async (services) => {
    const api = await compileApi("a.json", testDefinition({ use_keyless: true }), services);
    api.enter();
    api.enter();
    let closed = false;
    const closing = api.close().then(() => closed = true);
    api.leave();
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.equal(closed, false, "one request is still on the handle");
    api.leave();
    await closing;
    assert.equal(api.close(), api.close(), "close() is idempotent");
  });
});

Deno.test("canReuse() keeps an unchanged API without JS, until a plugin file appears for it", async () => {
  await withServices(async (services, dir) => {
    const def = testDefinition({ use_keyless: true });
    const api = await compileApi("a.json", def, services);
    const reusable = async (next: typeof def) => canReuse(api, next, await readJsSources(next, services));
    assert.equal(await reusable(testDefinition({ use_keyless: true })), true);
    assert.equal(await reusable(testDefinition({ use_keyless: false })), false);
    await Deno.mkdir(join(dir, "middleware/api-1/pre"), { recursive: true });
    await Deno.writeTextFile(join(dir, "middleware/api-1/pre/late.js"), "var late;");
    assert.equal(await reusable(def), false);
  });
});

Deno.test("compileApi() runs adjacent JS hook stages as one step only when nothing stands between them", async () => {
  const hook = (name: string) =>
    `var ${name} = new TykJS.TykMiddleware.NewMiddleware({});
${name}.NewProcessRequest(function (request) { return ${name}.ReturnData(request, {}); });`;
  const jsApi = (extra: Record<string, unknown>) =>
    testDefinition({
      use_keyless: true,
      custom_middleware: {
        driver: "otto",
        pre: [{ name: "preHook", path: "pre.js" }],
        post: [{ name: "postHook", path: "post.js" }],
      },
      ...extra,
    });
  /** The API's auth and JS steps, in order. */
  const jsSteps = async (
    services: Parameters<typeof compileApi>[2],
    def: ReturnType<typeof testDefinition>,
  ) => {
    const api = await compileApi("a.json", def, services);
    try {
      return names(api.chain.steps).filter((name) => /^js[RA]|^tokenAuth$/.test(name)).join(" ");
    } finally {
      await api.close();
    }
  };
  for (const fuse of [true, false]) {
    await withServices(async (services, dir) => {
      await Deno.writeTextFile(join(dir, "pre.js"), hook("preHook"));
      await Deno.writeTextFile(join(dir, "post.js"), hook("postHook"));
      const hooks = fuse ? "jsRequestHooks" : "jsRequestHooks jsRequestHooks";
      assert.equal(await jsSteps(services, jsApi({})), hooks, `keyless, fuse ${fuse}`);
      // an API rate limit runs between them
      const limited = jsApi({ global_rate_limit: { rate: 100, per: 1 } });
      const apart = "jsRequestHooks jsRequestHooks";
      assert.equal(await jsSteps(services, limited), apart, `rate limited, fuse ${fuse}`);
      // a JS auth_check and the post_key_auth hooks, unless the standard auth runs between them
      const custom = (standard: boolean) =>
        testDefinition({
          use_keyless: false,
          use_standard_auth: standard,
          custom_plugin_auth_enabled: true,
          custom_middleware: {
            driver: "otto",
            auth_check: { name: "preHook", path: "pre.js" },
            post_key_auth: [{ name: "postHook", path: "post.js" }],
          },
        });
      assert.equal(
        await jsSteps(services, custom(false)),
        fuse ? "jsRequestHooks" : "jsAuthCheck jsRequestHooks",
      );
      assert.equal(await jsSteps(services, custom(true)), "jsAuthCheck tokenAuth jsRequestHooks");
    }, { enable_jsvm: true, jsvm_fuse_hooks: fuse });
  }
});
