/**
 * Attack: plugin code that outlives `jsvm_timeout` (recursion in concise arrows, an endless iterator made of
 * arrows, a sort whose comparator never gets to finish, code built with eval, a promise-job chain that
 * outlives the call that started it). The client gets Tyk's 500 at the deadline; within 1 s of it the
 * sandbox thread that ran the code is stopped or gone (its CPU, read from /proc, is back to zero), and the
 * API's next request is served normally. Code that no guard can interrupt (a long built-in call) is
 * reported by the watchdog with its API and plugin.
 */
import assert from "node:assert/strict";
import { startGateway, type TestGateway } from "../support/gateway.ts";
import { statusOf } from "../support/http.ts";
import { busyWorkerThreads, noThreadSpins, threadsStop } from "../support/thread_cpu.ts";
import { startUpstream } from "../support/upstream.ts";
import { probeApis } from "./_probe_apis.ts";

const CASES: Record<string, string> = {
  arrow: "var g = n => n > 0 ? g(n - 1) + g(n - 1) : 1; g(60);",
  iterator:
    "var it = { [Symbol.iterator]: () => ({ next: () => ({ done: false, value: 1 }) }) }; for (var x of it);",
  sort: `var a = new Float64Array(1e6).map(Math.random);
    Array.prototype.sort.call(a, (x, y) => Math.sin(x) - Math.sin(y));`,
  evaluated: 'eval("var h = n => n > 0 ? h(n - 1) + h(n - 1) : 1; h(60);");',
  microtasks: "var f = () => queueMicrotask(f); f();",
  // a built-in call with no plugin function inside: nothing can tick, so the watchdog must speak up
  builtin: "Array.prototype.sort.call(new Float64Array(1e6).map(Math.random));",
};

async function withRunawayGateway(fn: (gw: TestGateway) => Promise<void>) {
  const upstream = await startUpstream();
  const { files, apps } = probeApis(CASES, upstream.url);
  const gw = await startGateway({
    conf: { enable_jsvm: true, jsvm_timeout: 1, jsvm_pool_size: 1 },
    files,
    apps,
  });
  try {
    for (const name of Object.keys(CASES)) assert.equal(await statusOf(fetch(`${gw.url}/${name}/`)), 200);
    await noThreadSpins(25, gw.pid); // every sandbox started and idle
    await fn(gw);
  } catch (error) {
    throw new Error(
      `${(error as Error).message}\nGateway log:\n${gw.logs().split("\n").slice(-30).join("\n")}`,
      {
        cause: error,
      },
    );
  } finally {
    await gw.stop();
    await upstream.stop();
  }
}

Deno.test("attack: runaway code stops within 1 s of its deadline and the API serves its next request", async () => {
  await withRunawayGateway(async (gw) => {
    for (const name of ["arrow", "iterator", "sort", "evaluated"]) {
      const answer = fetch(`${gw.url}/${name}/?run=1`);
      answer.catch(() => {}); // a failure is reported below, once awaited
      const spinning = await busyWorkerThreads(gw.pid);
      assert.ok(spinning.size > 0, `${name}: the plugin keeps its sandbox thread busy`);
      const res = await answer;
      assert.equal(res.status, 500, name);
      assert.deepEqual(await res.json(), { error: "Internal Server Error" });
      await threadsStop(spinning, { pid: gw.pid, withinMs: 1_000 });
      assert.equal(await statusOf(fetch(`${gw.url}/${name}/`)), 200, `${name}: the next request`);
    }
  });
});

Deno.test("attack: promise jobs a call leaves behind stop at its deadline, or as soon as the next call waits", async () => {
  await withRunawayGateway(async (gw) => {
    // The call answers; the chain it started keeps the thread busy until the call's deadline.
    const started = performance.now();
    assert.equal(await statusOf(fetch(`${gw.url}/microtasks/?run=1`)), 200);
    const spinning = await busyWorkerThreads(gw.pid);
    assert.ok(spinning.size > 0, "the chain keeps its sandbox thread busy");
    await threadsStop(spinning, { pid: gw.pid, withinMs: 2_000 - (performance.now() - started) });
    assert.equal(await statusOf(fetch(`${gw.url}/microtasks/`)), 200);
    // Again, with the next request right behind it: served at once, and the chain is gone too.
    assert.equal(await statusOf(fetch(`${gw.url}/microtasks/?run=1`)), 200);
    const next = performance.now();
    assert.equal(await statusOf(fetch(`${gw.url}/microtasks/`)), 200);
    assert.ok(performance.now() - next < 500, "the next call does not wait for the chain's deadline");
    await noThreadSpins(5, gw.pid);
    await gw.waitForLog(/promise jobs of an answered call ran out of time.*api_id=microtasks/);
  });
});

Deno.test("attack: a thread busy past its deadline in a built-in call is reported with its API and plugin", async () => {
  await withRunawayGateway(async (gw) => {
    const res = await fetch(`${gw.url}/builtin/?run=1`);
    assert.equal(res.status, 500);
    await res.body?.cancel();
    await gw.waitForLog(
      /level=error msg="JS sandbox thread still busy 1 s after its deadline[^"]*" prefix=\S+ api_id=builtin plugin="probe \(\S+builtin\.js\) DoProcessRequest"/,
      5_000,
    );
    // meanwhile the other APIs serve as usual
    for (const name of ["arrow", "sort"]) assert.equal(await statusOf(fetch(`${gw.url}/${name}/`)), 200);
  });
});
