import assert from "node:assert/strict";
import { captureLog } from "../../capture_log.ts";
import { openEmbeddedStore } from "../../store/embedded.ts";
import type { Store } from "../../store/store.ts";
import { testCtx, testDefinition } from "../_test_ctx.ts";
import { createResponseCache, type ResponseCache } from "./response_cache.ts";

const root = await Deno.makeTempDir({ prefix: "portcullis-cache-" });
globalThis.addEventListener("unload", () => Deno.removeSync(root, { recursive: true }));
let opened = 0;

function definition(cacheOptions: Record<string, unknown>, extendedPaths: Record<string, unknown> = {}) {
  return testDefinition({
    cache_options: { enable_cache: true, cache_timeout: 60, ...cacheOptions },
    version_data: {
      not_versioned: true,
      versions: { Default: { use_extended_paths: true, extended_paths: extendedPaths } },
    },
  });
}

async function withCache(
  def: ReturnType<typeof definition>,
  run: (cache: ResponseCache, store: Store) => Promise<void>,
): Promise<void> {
  await using store = await openEmbeddedStore(`${root}/${++opened}`);
  const cache = createResponseCache(def, { store, log: captureLog(), maxBodyBytes: 16 })!;
  await run(cache, store);
}

/** Sends `response` through the chain's cache steps and reads the body as a client would. */
async function served(cache: ResponseCache, url: string, response: Response, init?: RequestInit) {
  const ctx = testCtx(url, init);
  const hit = await cache.lookup(ctx) as Response | undefined;
  const out = hit ?? await cache.write(ctx, response) as Response;
  return { status: out.status, headers: out.headers, text: await out.text() };
}

/** Waits until the store holds `count` cache entries (they are written as the body finishes streaming). */
async function entries(store: Store, count: number): Promise<void> {
  for (let i = 0; i < 200 && (await store.keys("cache-")).length < count; i++) {
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.equal((await store.keys("cache-")).length, count);
}

Deno.test("createResponseCache() is null unless cache_options.enable_cache", async () => {
  await using store = await openEmbeddedStore(`${root}/${++opened}`);
  assert.equal(createResponseCache(testDefinition({}), { store, log: captureLog() }), null);
});

Deno.test("createResponseCache() answers a cached path from the store with x-tyk-cached-response", async () => {
  await withCache(definition({}, { cache: ["/hit"] }), async (cache, store) => {
    const first = await served(cache, "http://gw/a/hit", new Response("one", { headers: { "x-up": "1" } }));
    assert.equal(first.headers.get("x-tyk-cached-response"), null);
    await entries(store, 1);
    const second = await served(cache, "http://gw/a/hit", new Response("two"));
    assert.equal(second.headers.get("x-tyk-cached-response"), "1");
    assert.equal(second.headers.get("x-up"), "1");
    assert.equal(second.text, "one");
    const other = await served(cache, "http://gw/a/hit?q=1", new Response("three"));
    assert.equal(other.text, "three", "the query is part of the key");
    const post = await served(cache, "http://gw/a/hit", new Response("four"), { method: "POST" });
    assert.equal(post.text, "four", "only safe methods are cached on a plain cache path");
  });
});

Deno.test("createResponseCache() never stores an error status unless the codes list it", async () => {
  await withCache(definition({}, { cache: ["/x"] }), async (cache, store) => {
    await served(cache, "http://gw/a/x", new Response("boom", { status: 500 }));
    await served(cache, "http://gw/a/x", new Response("missing", { status: 404 }));
    await served(cache, "http://gw/a/x?ok", new Response("fine"));
    await entries(store, 1);
  });
  await withCache(definition({ cache_response_codes: [404] }, { cache: ["/x"] }), async (cache, store) => {
    await served(cache, "http://gw/a/x", new Response("fine"));
    await served(cache, "http://gw/a/x?404", new Response("missing", { status: 404 }));
    await entries(store, 1);
    assert.equal((await served(cache, "http://gw/a/x?404", new Response("?"))).text, "missing");
  });
});

Deno.test("createResponseCache() leaves an uncacheable response untouched, so it streams", async () => {
  await withCache(definition({}, { cache: ["/x"] }), async (cache) => {
    const ctx = testCtx("http://gw/a/elsewhere");
    assert.equal(await cache.lookup(ctx), undefined);
    const response = new Response("body");
    assert.equal(cache.write(ctx, response), response);
  });
});

Deno.test("createResponseCache() follows upstream cache control and skips bodies over the limit", async () => {
  await withCache(
    definition({ enable_upstream_cache_control: true, cache_all_safe_requests: true }),
    async (cache, store) => {
      await served(cache, "http://gw/a/big", new Response("x".repeat(17)));
      await served(
        cache,
        "http://gw/a/ttl",
        new Response("t", { headers: { "x-tyk-cache-action-set-ttl": "0" } }),
      );
      await served(
        cache,
        "http://gw/a/err",
        new Response("e", { status: 503, headers: { "x-tyk-cache-action-set": "1" } }),
      );
      await entries(store, 1);
      const err = await served(cache, "http://gw/a/err", new Response("?"));
      assert.equal(err.status, 503, "the upstream asked for it to be cached");
      assert.equal((await served(cache, "http://gw/a/big", new Response("y"))).text, "y");
    },
  );
});
