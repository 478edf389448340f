/**
 * What a JSVM hook call costs the gateway, and which channel carries it best.
 *
 *   deno bench --no-remote -A bench/jsvm_call_bench.ts
 *
 * - "channel": one round trip to a minimal echo worker, postMessage both ways (baseline) against
 *   SharedArrayBuffers both ways, the host woken by `Atomics.waitAsync` (what src/jsvm does).
 * - "hook call": `pool.call("myMw", "DoProcessRequest", …)` end to end, one at a time (latency).
 * - "16 hook calls in flight": the same with 16 concurrent calls on a 2-worker pool (throughput; divide
 *   the time by 16 for the cost per call).
 */
import { logger } from "../src/log.ts";
import { createSandboxPool } from "../src/jsvm/host/sandbox_pool.ts";
import { requestJson } from "../tests/support/sandbox_pool.ts";

const REQUEST = requestJson("");
const SESSION = JSON.stringify({ meta_data: {}, rate: 0, per: 0, quota_max: -1 });
const SPEC = JSON.stringify({ APIID: "bench", OrgID: "org", config_data: {} });
const ARGS = [REQUEST, SESSION, SPEC];
const PLUGIN = `var myMw = new TykJS.TykMiddleware.NewMiddleware({});
myMw.NewProcessRequest(function (request, session, spec) {
  request.SetHeaders["X-Hook"] = "1";
  return myMw.ReturnData(request, {});
});`;

function echoWorker(): Worker {
  return new Worker(new URL("./_jsvm_echo_worker.ts", import.meta.url), {
    type: "module",
    deno: { permissions: "none" },
  });
}

// postMessage both ways.
const messageWorker = echoWorker();
let pendingMessage: ((value: string) => void) | null = null;
messageWorker.onmessage = (event) => pendingMessage?.(event.data.value);
let messageId = 0;
function callByMessage(): Promise<string> {
  return new Promise((resolve) => {
    pendingMessage = resolve;
    messageWorker.postMessage({
      type: "call",
      id: ++messageId,
      target: "myMw",
      method: "DoProcessRequest",
      args: ARGS,
    });
  });
}

// Shared memory both ways: slots 0/1 are the call's sequence and length, 2/3 the answer's.
const sharedWorker = echoWorker();
const control = new Int32Array(new SharedArrayBuffer(16));
const data = new SharedArrayBuffer(64 * 1024);
const out = new SharedArrayBuffer(64 * 1024);
const bytes = new Uint8Array(data);
const encoder = new TextEncoder();
const decoder = new TextDecoder();
sharedWorker.postMessage({ type: "shared", control: control.buffer, data, out });
async function callByShared(): Promise<string> {
  const seq = Atomics.load(control, 2);
  const { written } = encoder.encodeInto(["myMw", "DoProcessRequest", ...ARGS].join("\u0000"), bytes);
  Atomics.store(control, 1, written);
  Atomics.add(control, 0, 1);
  Atomics.notify(control, 0);
  const wait = Atomics.waitAsync(control, 2, seq);
  if (wait.async) await wait.value;
  return decoder.decode(new Uint8Array(out, 0, Atomics.load(control, 3)));
}

const log = logger("jsvm-bench");
/** A started pool holding the benchmark's plugin. */
async function benchPool(apiId: string, size: number, persistState: boolean) {
  const pool = createSandboxPool({
    apiId,
    orgId: "org",
    driver: "otto",
    sources: [{ file: "/bench/myMw.js", code: PLUGIN, names: ["myMw"], kind: "middleware" }],
    timeoutMs: 5_000,
    size,
    persistState,
    log,
  });
  await pool.load();
  return pool;
}
const pool = await benchPool("bench", 2, false);
const persistent = await benchPool("bench-persist", 1, true);
await callByMessage();
await callByShared();

Deno.bench("postMessage both ways", { group: "channel", baseline: true }, async () => {
  await callByMessage();
});
Deno.bench("SharedArrayBuffer both ways, Atomics.waitAsync", { group: "channel" }, async () => {
  await callByShared();
});

Deno.bench("pool.call() with state reset", { group: "hook call", baseline: true }, async () => {
  await pool.call("myMw", "DoProcessRequest", ARGS);
});
Deno.bench("pool.call() with persistState", { group: "hook call" }, async () => {
  await persistent.call("myMw", "DoProcessRequest", ARGS);
});

Deno.bench(
  "16 concurrent pool.call() on 2 workers",
  { group: "16 hook calls in flight", baseline: true },
  async () => {
    const calls: Promise<string>[] = [];
    for (let i = 0; i < 16; i++) calls.push(pool.call("myMw", "DoProcessRequest", ARGS));
    await Promise.all(calls);
  },
);

// Deno.bench has no teardown: stop the workers once every benchmark has run.
globalThis.addEventListener("unload", () => {
  messageWorker.terminate();
  sharedWorker.terminate();
  void pool.close();
  void persistent.close();
});
