import assert from "node:assert/strict";
import { startRawHttpServer } from "../../../tests/support/raw_http_server.ts";
import { emptySession } from "../../keys/session.ts";
import { withServices } from "../_test_ctx.ts";
import { createHostCalls } from "./host_calls.ts";

const NO_SIGNAL = new AbortController().signal;

/** The host calls of a gateway on a fresh store. */
async function withHostCalls(
  fn: (
    call: (
      op: Parameters<ReturnType<typeof createHostCalls>>[0],
      ...args: string[]
    ) => Promise<string | undefined>,
    parts: Parameters<Parameters<typeof withServices>[0]>[0],
  ) => Promise<void>,
): Promise<void> {
  await withServices(async (services) => {
    const hostCalls = createHostCalls({
      upstream: services.upstream,
      keyStore: services.keyStore,
      store: services.store,
      log: services.log,
      timeoutMs: 5_000,
      apiOrg: (apiId) => apiId === "api-1" ? "org-1" : undefined,
    });
    await fn((op, ...args) => hostCalls(op, args, NO_SIGNAL), services);
  });
}

Deno.test("TykMakeHttpRequest sends the plugin's request and answers Go-shaped, in both casings", async () => {
  await using upstream = await startRawHttpServer({
    respond: () => ({ status: 201, headers: [["x-reply", "a"], ["X-REPLY", "b"]], body: "made" }),
  });
  await withHostCalls(async (call) => {
    const out = await call(
      "TykMakeHttpRequest",
      JSON.stringify({
        Method: "POST",
        Domain: upstream.url,
        Resource: "/things?x=1",
        Headers: { "x-plugin": "1" },
        FormData: { b: "2 3", a: "1" },
      }),
    );
    const request = upstream.requests[0];
    assert.deepEqual([request.method, request.target, request.text()], ["POST", "/things?x=1", "a=1&b=2+3"]);
    assert.equal(request.header("x-plugin"), "1");
    const answer = JSON.parse(out!);
    assert.deepEqual([answer.Code, answer.Body, answer.Headers["X-Reply"]], [201, "made", ["a", "b"]]);
    assert.deepEqual([answer.code, answer.body, answer.headers], [answer.Code, answer.Body, answer.Headers]);
  });
});

Deno.test("TykMakeHttpRequest answers undefined, with a warning, for a URL that is not http(s)", async () => {
  await withHostCalls(async (call, { log }) => {
    assert.equal(await call("TykMakeHttpRequest", "undefined"), undefined);
    assert.equal(
      await call("TykMakeHttpRequest", JSON.stringify({ Domain: "file:///etc/passwd" })),
      undefined,
    );
    assert.equal(log.lines.filter((line) => line.level === "warn").length, 1);
  });
});

Deno.test("TykBatchRequest answers every request in order, a failed one with code 0", async () => {
  await using upstream = await startRawHttpServer({ respond: (req) => ({ body: `at ${req.target}` }) });
  await withHostCalls(async (call) => {
    const out = await call(
      "TykBatchRequest",
      JSON.stringify({
        suppress_parallel_execution: true,
        requests: [
          { method: "GET", relative_url: `${upstream.url}/one` },
          { method: "GET", relative_url: "http://127.0.0.1:1/refused" },
        ],
      }),
    );
    const results = JSON.parse(out!);
    assert.deepEqual(results.map((r: { code: number; body: string }) => [r.code, r.body]), [
      [200, "at /one"],
      [0, ""],
    ]);
    assert.equal(results[0].relative_url, `${upstream.url}/one`);
  });
});

Deno.test("TykSetKeyData writes a session that TykGetKeyData reads back; an unknown key is Tyk's error", async () => {
  await withHostCalls(async (call, { keyStore }) => {
    const session = Object.assign(emptySession(), { org_id: "org-1", rate: 3, meta_data: { seen: "yes" } });
    assert.equal(await call("TykSetKeyData", "plugin-key-0123", JSON.stringify(session), "1"), undefined);
    assert.equal((await keyStore.get("plugin-key-0123"))?.rate, 3);
    const read = JSON.parse((await call("TykGetKeyData", "plugin-key-0123", "api-1"))!);
    assert.deepEqual([read.rate, read.meta_data], [3, { seen: "yes" }]);
    assert.deepEqual(JSON.parse((await call("TykGetKeyData", "no-such-key", "api-1"))!), {
      status: "error",
      message: "Key not found",
    });
  });
});

Deno.test("TykStorage* keep values under jsvm-store: and answer as text", async () => {
  await withHostCalls(async (call, { store }) => {
    assert.equal(await call("TykStorageGet", "k"), undefined);
    assert.equal(await call("TykStorageSet", "k", "v1", "60"), undefined);
    assert.equal(await store.get("jsvm-store:k"), "v1");
    assert.equal(await call("TykStorageGet", "k"), "v1");
    assert.equal(await call("TykStorageSetNX", "k", "v2", "0"), "false");
    assert.equal(await call("TykStorageSetNX", "fresh", "v2", "0"), "true");
    const ttl = Number(await call("TykStorageTTL", "k"));
    assert.ok(ttl > 50 && ttl <= 60, `ttl ${ttl}`);
    assert.equal(await call("TykStorageIncr", "n", "0"), "1");
    assert.equal(await call("TykStorageIncr", "n", "0"), "2");
    assert.equal(await call("TykStorageDel", "k"), undefined);
    assert.equal(await store.get("jsvm-store:k"), null);
  });
});

Deno.test("TykStorage* refuse an empty or oversized key and an oversized value", async () => {
  await withHostCalls(async (call) => {
    await assert.rejects(() => call("TykStorageGet", ""), RangeError);
    await assert.rejects(() => call("TykStorageGet", "k".repeat(257)), RangeError);
    await assert.rejects(() => call("TykStorageSet", "k", "v".repeat(65_537), "0"), RangeError);
  });
});
