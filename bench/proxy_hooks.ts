/**
 * What JS hooks cost on the request path, end to end with wrk: a proxied keyless API with a `pre` and a
 * `post` hook that each set a header, against the same API with no hooks, in the same gateway and run; and
 * beside them a virtual endpoint that answers JSON from JS without the upstream.
 *
 *   deno run -A bench/proxy_hooks.ts [--seconds 5] [--rounds 3]
 *
 * Reports the added latency per hook, the throughput ratio hooks / no hooks (wrk, 32 connections,
 * rounds alternating between the two APIs) and the gateway's CPU time per request in those runs, which
 * moves much less than throughput when other work shares the machine. Latency is measured in pairs, one request to each API back to
 * back from one client: the median of the pairs' differences, halved, is the cost of one hook. On a shared
 * machine this cancels the drift that makes two separate medians differ by more than a hook costs.
 */
import { keylessApi, startGateway } from "../tests/support/gateway.ts";
import { hookedApi } from "./_hooked_api.ts";
import { PLUGIN_FILES, virtualApi } from "./_apis.ts";
import { startOkUpstream } from "./_upstream.ts";
import { machineLine, median, option, rotated, wrk } from "./_wrk.ts";
import { cpuPerRequest, type ThreadCpu } from "./_cpu.ts";

const SECONDS = Number(option("seconds", "5"));
const ROUNDS = Number(option("rounds", "3"));
const PAIRS = Number(option("pairs", "20000"));

const upstream = await startOkUpstream();
const target = upstream.url;

const gw = await startGateway({
  conf: { enable_jsvm: true, log_level: "warn" },
  files: PLUGIN_FILES,
  apps: {
    "plain.json": keylessApi("plain", "/plain/", target),
    "hooks.json": hookedApi("hooks", "/hooks/", target),
    "virtual.json": virtualApi("virtual", "/virtual/", target, "answer"),
  },
});

/** Times one request, body read; throws on a failed one. */
async function timed(url: string): Promise<number> {
  const started = performance.now();
  const res = await fetch(url);
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`${url} answered ${res.status}`);
  return (performance.now() - started) * 1000;
}

/** Per pair, the hooks request's time minus the plain one's, in µs; the order within a pair alternates. */
async function pairedDifferences(plainUrl: string, hooksUrl: string, pairs: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < pairs; i++) {
    if (i % 2 === 0) {
      const plain = await timed(plainUrl);
      out.push(await timed(hooksUrl) - plain);
    } else {
      const hooks = await timed(hooksUrl);
      out.push(hooks - await timed(plainUrl));
    }
  }
  return out;
}

try {
  const plainUrl = `${gw.url}/plain/x`;
  const hooksUrl = `${gw.url}/hooks/x`;
  const virtualUrl = `${gw.url}/virtual/x`;
  for (const url of [plainUrl, hooksUrl, virtualUrl]) await wrk(url, { connections: 8, seconds: 2 });

  await pairedDifferences(plainUrl, hooksUrl, 1000); // warm-up
  const perHook = median(await pairedDifferences(plainUrl, hooksUrl, PAIRS)) / 2;
  const latency = { plain: [] as number[], hooks: [] as number[], virtual: [] as number[] };
  const rps = { plain: [] as number[], hooks: [] as number[], virtual: [] as number[] };
  const cpu = { plain: [] as ThreadCpu[], hooks: [] as ThreadCpu[], virtual: [] as ThreadCpu[] };
  let errors = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const apis = [["plain", plainUrl], ["hooks", hooksUrl], ["virtual", virtualUrl]] as const;
    for (const [name, url] of rotated(apis, round)) {
      const one = await wrk(url, { connections: 1, seconds: SECONDS });
      let many = one;
      cpu[name].push(
        await cpuPerRequest(gw.pid, async () => {
          many = await wrk(url, { connections: 32, seconds: SECONDS, threads: 2 });
          return many;
        }),
      );
      latency[name].push(one.p50us);
      rps[name].push(many.rps);
      errors += one.errors + many.errors;
    }
  }
  const ratio = median(rps.hooks) / median(rps.plain);
  console.log(`\n## JS hooks on the proxy path (${await machineLine()})\n`);
  const cpuCell = (runs: ThreadCpu[]) => {
    const main = median(runs.map((r) => r.main));
    const workers = median(runs.map((r) => r.workers));
    const other = median(runs.map((r) => r.other));
    return `${main.toFixed(0)} / ${workers.toFixed(0)} / ${other.toFixed(0)} µs`;
  };
  console.log(
    "| API | p50 latency, 1 connection | throughput, 32 connections | gateway CPU per request (main / sandboxes / other) |",
  );
  console.log("|---|---|---|---|");
  const rows = [
    ["no hooks (keyless proxy)", "plain"],
    ["pre + post hooks", "hooks"],
    ["virtual endpoint (JSON answer)", "virtual"],
  ] as const;
  for (const [label, name] of rows) {
    console.log(
      `| ${label} | ${median(latency[name]).toFixed(0)} µs | ${median(rps[name]).toFixed(0)} req/s | ${
        cpuCell(cpu[name])
      } |`,
    );
  }
  const total = (runs: ThreadCpu[]) => median(runs.map((r) => r.main + r.workers + r.other));
  console.log(
    `\nadded per hook (median of ${PAIRS} paired requests, halved): ${
      perHook.toFixed(1)
    } µs; throughput with hooks: ${ratio.toFixed(2)}× no hooks`,
  );
  console.log(
    `gateway CPU per request under load: ${(total(cpu.hooks) / total(cpu.plain)).toFixed(2)}× no hooks (${
      ((total(cpu.hooks) - total(cpu.plain)) / 2).toFixed(1)
    } µs per hook, every thread)`,
  );
  console.log(
    `virtual endpoint (JSON answer): ${(median(rps.virtual) / median(rps.plain)).toFixed(2)}× the keyless ` +
      `proxy's throughput; gateway CPU per request ${(total(cpu.virtual) / total(cpu.plain)).toFixed(2)}×`,
  );
  console.log(`errors: ${errors}; rounds: ${ROUNDS} × ${SECONDS} s per API and mode`);
} finally {
  await gw.stop();
  await upstream.stop();
}
