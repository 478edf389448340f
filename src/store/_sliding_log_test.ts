import assert from "node:assert/strict";
import { MemorySlidingLog } from "./_sliding_log.ts";

Deno.test("MemorySlidingLog.step() keeps exact counts on a busy key as old entries leave the window", () => {
  const log = new MemorySlidingLog();
  // 10 requests a millisecond for 5 s against 100 per second: the log stays one second long.
  let blocked = 0;
  for (let t = 0; t < 5000; t++) {
    for (let i = 0; i < 10; i++) if (log.step("k", 100, 1, 1_000_000 + t).blocked) blocked++;
  }
  assert.equal(blocked, 50_000 - 100, "only the first 100 pass: blocked requests are logged too");
  const quiet = new MemorySlidingLog();
  for (let t = 0; t < 5000; t++) assert.equal(quiet.step("k", 1000, 1, 1_000_000 + t).blocked, false);
  assert.deepEqual(quiet.step("k", 1000, 1, 1_005_000), { blocked: false, remaining: 0, resetMs: 1 });
});
