import assert from "node:assert/strict";
import { testCtx } from "../_test_ctx.ts";
import { openEmbeddedStore } from "../../store/embedded.ts";
import { GatewayError } from "../errors.ts";
import { type ApiLimitDefinition, createApiRateLimit } from "./api_rate_limit.ts";

const root = await Deno.makeTempDir({ prefix: "portcullis-api-limit-" });
globalThis.addEventListener("unload", () => Deno.removeSync(root, { recursive: true }));
let opened = 0;

function def(rate: number, per: number, extra: Partial<ApiLimitDefinition> = {}): ApiLimitDefinition {
  return {
    api_id: "api-1",
    org_id: "org-1",
    disable_rate_limit: false,
    global_rate_limit: { rate, per, disabled: false },
    ...extra,
  };
}

Deno.test("createApiRateLimit() is null when the API has no usable global limit", async () => {
  await using store = await openEmbeddedStore(`${root}/${++opened}`);
  const common = { store, limiter: "sliding" as const, hashKey: (s: string) => s };
  assert.equal(createApiRateLimit(def(0, 60), common), null);
  assert.equal(createApiRateLimit(def(5, 0), common), null);
  assert.equal(createApiRateLimit(def(5, 60, { disable_rate_limit: true }), common), null);
  assert.equal(
    createApiRateLimit(def(5, 60, { global_rate_limit: { rate: 5, per: 60, disabled: true } }), common),
    null,
  );
});

Deno.test("createApiRateLimit() blocks every caller together after rate, naming Tyk's apilimiter key", async () => {
  await using store = await openEmbeddedStore(`${root}/${++opened}`);
  let t = Date.now();
  const events: string[] = [];
  const step = createApiRateLimit(def(2, 10), {
    store,
    limiter: "sliding",
    hashKey: (s) => `hashed(${s})`,
    now: () => t,
    onRateLimited: (_ctx, key) => events.push(key),
  })!;
  assert.equal(await step(testCtx("http://gw/a")), undefined);
  assert.equal(await step(testCtx("http://gw/b")), undefined);
  const blocked = await step(testCtx("http://gw/c"));
  assert.ok(blocked instanceof GatewayError);
  assert.deepEqual([blocked.status, blocked.message], [429, "API Rate Limit Exceeded"]);
  assert.deepEqual(events, ["apilimiter-org-1api-1"]);
  t += 10_001;
  assert.equal(await step(testCtx("http://gw/d")), undefined);
});

Deno.test("createApiRateLimit() lets requests through when the store fails, reporting it once", async () => {
  const store = await openEmbeddedStore(`${root}/${++opened}`);
  const errors: unknown[] = [];
  const step = createApiRateLimit(def(1, 10), {
    store,
    limiter: "window",
    hashKey: (s) => s,
    onStoreError: (_ctx, err) => errors.push(err),
  })!;
  await store.close();
  for (let i = 0; i < 3; i++) assert.equal(await step(testCtx("http://gw/a")), undefined);
  assert.equal(errors.length, 1);
});
