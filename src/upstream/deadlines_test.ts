import assert from "node:assert/strict";
import { DeadlineQueue } from "./deadlines.ts";

Deno.test("DeadlineQueue.start() expires deadlines in order and never calls a cancelled one", async () => {
  const queue = new DeadlineQueue(20);
  const fired: string[] = [];
  const last = Promise.withResolvers<void>();
  const owner = (name: string, then = () => {}) => ({
    onDeadline: (from: DeadlineQueue) => {
      assert.equal(from, queue);
      fired.push(name);
      then();
    },
  });
  queue.start(owner("a"));
  const b = queue.start(owner("b"));
  queue.start(owner("c", last.resolve));
  b.cancel();
  // the queue's timer does not keep a process alive (unref): this one does, for the test
  const alive = setTimeout(() => {}, 10_000);
  await last.promise;
  clearTimeout(alive);
  assert.deepEqual(fired, ["a", "c"]);
  assert.equal(queue.size, 0);
  queue.clear();
});

Deno.test("DeadlineQueue keeps only about the deadlines still pending when they settle in order", () => {
  const queue = new DeadlineQueue(60_000);
  const never = { onDeadline: () => assert.fail("cancelled") };
  for (let i = 0; i < 10_000; i++) queue.start(never).cancel();
  assert.equal(queue.size, 0);
  const open = queue.start(never);
  for (let i = 0; i < 5000; i++) queue.start(never).cancel();
  assert.equal(queue.size, 5001, "settled entries behind a pending one wait for it");
  open.cancel();
  assert.equal(queue.size, 0);
  queue.clear();
});

Deno.test("DeadlineQueue.clear() drops every deadline without calling it", async () => {
  const queue = new DeadlineQueue(5);
  queue.start({ onDeadline: () => assert.fail("cleared") });
  queue.clear();
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(queue.size, 0);
});

Deno.test("new DeadlineQueue() refuses a negative length", () => {
  assert.throws(() => new DeadlineQueue(-1), RangeError);
  assert.throws(() => new DeadlineQueue(NaN), RangeError);
});
