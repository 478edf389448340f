import assert from "node:assert/strict";
import { logger } from "../log.ts";
import { ConnectionGuard } from "./connection_guard.ts";

/** A guard on a clock the test moves; every test ends with closeAll(), which stops the sweep timer. */
function guardAt(options: { read?: number; write?: number; max?: number } = {}) {
  const clock = { now: 10_000 };
  const guard = new ConnectionGuard({
    readTimeoutMs: options.read ?? 1000,
    writeTimeoutMs: options.write ?? 5000,
    maxConnections: options.max ?? 10,
    log: logger("test"),
    now: () => clock.now,
  });
  const closed: string[] = [];
  const add = (name: string) => guard.add(() => closed.push(name));
  return { guard, clock, closed, add };
}

Deno.test("sweep() closes a connection that sent no request head within read_timeout, not before", () => {
  const { guard, clock, closed, add } = guardAt({ read: 1000 });
  add("silent");
  clock.now += 999;
  assert.equal(guard.sweep(), 0);
  clock.now += 1;
  assert.equal(guard.sweep(), 1);
  assert.deepEqual(closed, ["silent"]);
  assert.equal(guard.size, 0);
  guard.closeAll();
});

Deno.test("sweep() holds a request in flight to write_timeout, then an idle connection to read_timeout", () => {
  const { guard, clock, closed, add } = guardAt({ read: 500, write: 5000 });
  const busy = add("busy");
  busy.requestStarted();
  clock.now += 4000; // past read_timeout, within write_timeout
  assert.equal(guard.sweep(), 0);
  busy.requestEnded(); // from here the connection is idle: read_timeout, well before the write deadline
  clock.now += 500 + guard.sweepEveryMs - 1;
  assert.equal(guard.sweep(), 0, "the idle period starts when the response was sent");
  clock.now += 1;
  assert.equal(guard.sweep(), 1);
  assert.deepEqual(closed, ["busy"]);
  guard.closeAll();
});

Deno.test("sweep() closes a response still unsent after write_timeout", () => {
  const { guard, clock, closed, add } = guardAt({ read: 1000, write: 5000 });
  add("slow").requestStarted();
  clock.now += 5000 + guard.sweepEveryMs;
  assert.equal(guard.sweep(), 1);
  assert.deepEqual(closed, ["slow"]);
  guard.closeAll();
});

Deno.test("requestEnded() keeps write_timeout while other requests of the connection are in flight", () => {
  const { guard, clock, add } = guardAt({ read: 1000, write: 5000 });
  const h2 = add("h2");
  h2.requestStarted();
  h2.requestStarted();
  h2.requestEnded();
  assert.equal(h2.inflight, 1);
  clock.now += 3000;
  assert.equal(guard.sweep(), 0);
  guard.closeAll();
});

Deno.test("hasRoom() is false at maxConnections and true again once one is deleted", async () => {
  const { guard, add } = guardAt({ max: 2 });
  const first = add("a");
  add("b");
  assert.equal(guard.hasRoom(), false);
  const woken = guard.waitForClose(60_000);
  guard.delete(first);
  await woken; // resolves at the close, long before its 60 s fallback
  assert.equal(guard.hasRoom(), true);
  guard.closeAll();
});

Deno.test("closeAll() closes every connection", () => {
  const { guard, closed, add } = guardAt();
  add("a");
  add("b");
  guard.closeAll();
  assert.deepEqual(closed.sort(), ["a", "b"]);
  assert.equal(guard.size, 0);
});

Deno.test("new ConnectionGuard() rejects a timeout or cap of 0", () => {
  assert.throws(
    () =>
      new ConnectionGuard({ readTimeoutMs: 0, writeTimeoutMs: 1, maxConnections: 1, log: logger("test") }),
    /readTimeoutMs must be above 0, got 0/,
  );
  assert.throws(
    () =>
      new ConnectionGuard({ readTimeoutMs: 1, writeTimeoutMs: 1, maxConnections: 0, log: logger("test") }),
    /maxConnections must be above 0, got 0/,
  );
});
