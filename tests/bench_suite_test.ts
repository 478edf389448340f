/**
 * `deno task bench` itself works: one quick round of every case runs against real nginx, wrk and gateways and
 * writes a results file a reader can trust. No figure is judged here (speed lives in the benchmark's output);
 * only that every case was measured, answered correctly and landed in valid JSON.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { missingBenchTools } from "./support/tools.ts";
import { withDir } from "./support/temp_dir.ts";

const SUITE = new URL("../bench/suite.ts", import.meta.url).pathname;
const CASES = [
  "upstream",
  "nginx",
  "nginx-njs-filter",
  "nginx-js-content",
  "bare",
  "keyless",
  "hooks",
  "virtual",
  "limits",
  "relay",
];

async function runSuite(args: string[], env?: Record<string, string>) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-remote", "-A", SUITE, ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

Deno.test({
  name: "deno task bench --quick measures every case once and writes the table's figures as JSON",
  ignore: missingBenchTools().length > 0,
  fn: () =>
    withDir(async (dir) => {
      const run = await runSuite(["--quick", "--out", dir]);
      assert.equal(run.code, 0, run.stderr);
      const files = [...Deno.readDirSync(dir)].map((e) => e.name);
      assert.equal(files.length, 1, files.join(", "));
      assert.match(files[0], /^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ\.json$/);
      assert.match(run.stdout, new RegExp(`written: ${join(dir, files[0])}`));
      const result = JSON.parse(await Deno.readTextFile(join(dir, files[0])));
      assert.deepEqual(result.settings, { connections: 32, wrkThreads: 2, seconds: 1, rounds: 1 });
      assert.deepEqual(result.cases.map((c: { name: string }) => c.name), CASES);
      for (const c of result.cases) {
        assert.equal(c.errors, 0, `${c.name}: errors`);
        assert.equal(c.rounds.length, 1, c.name);
        for (const field of ["rps", "p50us", "p99us", "cpuPerRequestUs", "peakRssMiB"]) {
          assert.ok(Number.isFinite(c[field]) && c[field] > 0, `${c.name}.${field} = ${c[field]}`);
        }
        assert.ok(c.p99us >= c.p50us, `${c.name}: p99 below p50`);
        // one round: a ratio is this case's throughput over the reference's in that round
        const nginx = result.cases[1].rps;
        const bare = result.cases[4].rps;
        assert.ok(Math.abs(c.vsNginxProxy - c.rps / nginx) < 1e-9, `${c.name} vs nginx`);
        assert.ok(Math.abs(c.vsBareDenoProxy - c.rps / bare) < 1e-9, `${c.name} vs bare`);
        // the table prints the same figures
        assert.match(run.stdout, new RegExp(`\\| ${c.rps.toFixed(0)} \\| ${c.p50us.toFixed(0)} µs \\|`));
      }
      const cpu = (name: string) => result.cases.find((c: { name: string }) => c.name === name).rounds[0];
      // the hooks and virtual endpoints ran in sandboxes; the keyless proxy did not
      for (const name of ["hooks", "virtual", "relay"]) assert.ok(cpu(name).cpuSplitUs.workers > 0, name);
      assert.equal(cpu("keyless").cpuSplitUs.workers, 0);
      assert.deepEqual(result.published.figures.map((f: { rps: number }) => f.rps), [1130, 14061]);
      assert.match(result.published.note, /not measured here/);
      assert.match(run.stdout, /Published by Tyk, not measured here/);
      for (const target of Object.values(result.targets) as { measured: number }[]) {
        assert.ok(Number.isFinite(target.measured));
      }
    }),
});

Deno.test("deno task bench without wrk or nginx says what to install", async () => {
  const run = await runSuite([], { PATH: "/nonexistent" });
  assert.equal(run.code, 1);
  assert.match(run.stderr, /needs wrk, nginx/);
  assert.match(run.stderr, /apt-get install wrk nginx-light libnginx-mod-http-js/);
});
