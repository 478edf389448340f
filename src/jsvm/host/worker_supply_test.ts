import assert from "node:assert/strict";
import { workerThreads } from "../../../tests/support/thread_cpu.ts";
import { waitUntil } from "../../../tests/support/wait_until.ts";
import type { SandboxThread } from "./_sandbox_thread.ts";
import { createWorkerSupply } from "./worker_supply.ts";

/** Threads one sandbox holds: its launcher and the sandbox itself. */
const PER_SANDBOX = 2;

Deno.test("take() boots a thread, then keeps two spares booted and hands them out next", async () => {
  const supply = createWorkerSupply();
  const before = workerThreads().length;
  const count = () => (workerThreads().length - before) / PER_SANDBOX;
  const taken: SandboxThread[] = [];
  try {
    assert.equal(count(), 0, "a new supply starts nothing");
    taken.push(supply.take(128));
    assert.ok(count() > 0, "the first take() boots its thread at once");
    await waitUntil(() => count() === 3, "two spares boot");
    const withSpares = workerThreads();
    taken.push(supply.take(128), supply.take(128));
    assert.deepEqual(workerThreads(), withSpares, "the next two take() hand out the spares: no new thread");
    await waitUntil(() => count() === 5, "two more spares boot");
    supply.close();
    await waitUntil(() => count() === 3, "close() stops the spares");
    taken.push(supply.take(128));
    await waitUntil(() => count() === 4, "the thread taken from a closed supply boots");
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(count(), 4, "a closed supply keeps no spare");
  } finally {
    supply.close();
    for (const thread of taken) thread.stop();
    await waitUntil(() => count() === 0, "every thread ends");
  }
});

Deno.test("take() hands out a spare with the heap limit asked for", async () => {
  const supply = createWorkerSupply();
  const before = workerThreads().length;
  const taken: SandboxThread[] = [];
  try {
    taken.push(supply.take(128));
    await new Promise((resolve) => setTimeout(resolve, 0)); // the spares boot
    taken.push(supply.take(320), supply.take(128));
    assert.deepEqual(taken.map((thread) => thread.memoryLimitMb), [128, 320, 128]);
  } finally {
    supply.close();
    for (const thread of taken) thread.stop();
    await waitUntil(() => workerThreads().length === before, "every thread ends");
  }
});

Deno.test("a spare nobody takes for idleMs is stopped", async () => {
  const supply = createWorkerSupply({ idleMs: 1_000 });
  const before = workerThreads().length;
  const count = () => (workerThreads().length - before) / PER_SANDBOX;
  const thread = supply.take(128);
  try {
    await waitUntil(() => count() === 3, "two spares boot");
    await waitUntil(() => count() === 1, "the idle spares are stopped");
  } finally {
    supply.close();
    thread.stop();
    await waitUntil(() => count() === 0, "every thread ends");
  }
});

Deno.test("createWorkerSupply() refuses a negative idleMs", () => {
  assert.throws(() => createWorkerSupply({ idleMs: -1 }), RangeError);
});
