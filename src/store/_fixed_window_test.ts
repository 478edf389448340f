import assert from "node:assert/strict";
import { MemoryFixedWindows } from "./_fixed_window.ts";

Deno.test("MemoryFixedWindows.step() opens a window at the first request and blocks past rate", () => {
  const windows = new MemoryFixedWindows();
  const t0 = 1_000_000;
  assert.deepEqual(windows.step("k", 2, 10, t0), { blocked: false, remaining: 1, resetMs: 10_000 });
  assert.deepEqual(windows.step("k", 2, 10, t0 + 4_000), { blocked: false, remaining: 0, resetMs: 6_000 });
  assert.deepEqual(windows.step("k", 2, 10, t0 + 9_999), { blocked: true, remaining: 0, resetMs: 1 });
  assert.equal(windows.step("other", 2, 10, t0 + 9_999).blocked, false);
  assert.deepEqual(windows.step("k", 2, 10, t0 + 10_000), { blocked: false, remaining: 1, resetMs: 10_000 });
});

Deno.test("MemoryFixedWindows.step() truncates rate and per; delete() forgets a window", () => {
  const windows = new MemoryFixedWindows();
  assert.equal(windows.step("k", 1.9, 1.9, 0).resetMs, 1000);
  assert.equal(windows.step("k", 1.9, 1.9, 1).blocked, true);
  assert.equal(windows.delete("k"), true);
  assert.equal(windows.step("k", 1, 1, 2).blocked, false);
});
