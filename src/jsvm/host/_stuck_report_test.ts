import assert from "node:assert/strict";
import { captureLog } from "../../capture_log.ts";
import { STUCK_MS, StuckReport } from "./_stuck_report.ts";

Deno.test("StuckReport reports a thread busy STUCK_MS after its stop once, and its end only then", () => {
  const log = captureLog();
  const report = new StuckReport(log, "api-1");
  report.stopped(1_000, "spin (plugins/spin.js)");
  report.busy(1_000 + STUCK_MS - 1);
  assert.equal(log.lines.length, 0);
  report.busy(1_000 + STUCK_MS);
  report.busy(1_000 + 3 * STUCK_MS);
  assert.deepEqual(log.lines.map((l) => [l.level, l.fields]), [
    ["error", { api_id: "api-1", plugin: "spin (plugins/spin.js)" }],
  ]);
  report.gone(1_000 + 2_500);
  assert.deepEqual(log.lines[1], {
    level: "warn",
    msg: "JS sandbox thread stopped 2.5 s after its deadline",
    fields: { api_id: "api-1", plugin: "spin (plugins/spin.js)" },
  });
});

Deno.test("StuckReport says nothing of a thread that ends in time, and counts from stoppedSince()", () => {
  const log = captureLog();
  const quick = new StuckReport(log, "api-1");
  quick.stopped(0, "loading");
  quick.busy(STUCK_MS - 1);
  quick.gone(STUCK_MS + 5);
  assert.equal(log.lines.length, 0);
  const late = new StuckReport(log, "api-2");
  late.stopped(5_000, "after (plugins/after.js)");
  late.stoppedSince(4_000); // the deadline of the call whose promise jobs ran on
  assert.equal(late.culprit, "after (plugins/after.js)");
  late.busy(4_000 + STUCK_MS);
  assert.equal(log.lines.length, 1);
});
