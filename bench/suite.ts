/**
 * `deno task bench`: Portcullis beside nginx and a bare Deno proxy, on loopback, in one run. Every case sits
 * in front of the same nginx `return 200` upstream (its own process) and is driven by wrk (32 connections, 2
 * threads); the cases take turns in rounds whose order rotates, so a busy moment of a shared machine hits
 * them all alike. Prints one table and writes the same figures as JSON to `bench/results/<time>.json`.
 *
 *   deno task bench [--quick] [--seconds 3] [--rounds 5] [--connections 32] [--out <dir>] [--profile <dir>]
 *
 * `--quick` is a smoke run (one round of 1 s, no warm-up). `--profile <dir>` runs the gateways with `--cpu-prof` (one
 * .cpuprofile per isolate, written when they stop). Ratios compare each case with nginx's proxy and with the
 * bare Deno proxy measured in the same round (the median over rounds); only they carry from one run to the
 * next on a machine that other work shares. CPU per request is the process under test, all its threads (for
 * nginx, its worker), upstream excluded; peak RSS is that process's VmHWM at the end of the run.
 */
import { keylessApi, startGateway, type TestGateway, tokenApi } from "../tests/support/gateway.ts";
import { missingBenchTools } from "../tests/support/tools.ts";
import { limitedKey, PLUGIN_FILES, virtualApi } from "./_apis.ts";
import { hookedApi } from "./_hooked_api.ts";
import { type ChildServer, spawnServer } from "./_child.ts";
import { cpuPerRequest, memoryKiB } from "./_cpu.ts";
import { type Nginx, startNginx } from "./_nginx.ts";
import { machineLine, median, option, rotated, wrk } from "./_wrk.ts";

const QUICK = Deno.args.includes("--quick");
const SECONDS = Number(option("seconds", QUICK ? "1" : "3"));
const ROUNDS = Number(option("rounds", QUICK ? "1" : "5"));
const WARM_UP_SECONDS = QUICK ? 0 : 2;
const CONNECTIONS = Number(option("connections", "32"));
const THREADS = 2;
const OUT = option("out", new URL("./results/", import.meta.url).pathname);
const PROFILE = option("profile", "");
const BARE = new URL("./_client_proxy.ts", import.meta.url).pathname;

/** Tyk's own figures, quoted: Tyk cannot be built here, so they come from a different machine and tool. */
const PUBLISHED = {
  source:
    "Tyk PR #7797 (https://github.com/TykTechnologies/tyk/pull/7797), ab -n 10000 -c 10 on Tyk's machine",
  note: "published by Tyk, not measured here: compare with care",
  figures: [
    { case: "Tyk JSVM middleware, otto", rps: 1130, meanLatencyMs: 8.85 },
    { case: "Tyk JSVM middleware, goja", rps: 14061, meanLatencyMs: 0.71 },
  ],
};

/** One thing measured: where wrk sends requests, and which process's CPU and memory they cost. */
interface Case {
  name: string;
  label: string;
  url: string;
  pid: number;
  headers?: Record<string, string>;
  /** What a correct answer looks like (status 200 and this body; a header when given). */
  body: string | RegExp;
  header?: [string, string];
}

/** One wrk run of one case. */
interface Run {
  rps: number;
  p50us: number;
  p99us: number;
  /** CPU per request, µs: all threads, and split by thread kind. */
  cpuUs: number;
  cpuSplitUs: { main: number; workers: number; other: number };
  requests: number;
  errors: number;
}

async function checkAnswer(c: Case): Promise<void> {
  const res = await fetch(c.url, { headers: c.headers });
  const body = await res.text();
  const bodyOk = typeof c.body === "string" ? body === c.body : c.body.test(body);
  const headerOk = !c.header || res.headers.get(c.header[0]) === c.header[1];
  if (res.status !== 200 || !bodyOk || !headerOk) {
    const without = headerOk ? "" : ` without ${c.header![0]}: ${c.header![1]}`;
    throw new Error(`${c.name} (${c.url}) answered ${res.status} ${body.slice(0, 200)}${without}`);
  }
}

async function measure(c: Case, seconds: number): Promise<Run> {
  let result = { rps: 0, p50us: NaN, p99us: NaN, requests: 0, errors: 0 };
  const cpu = await cpuPerRequest(c.pid, async () => {
    result = await wrk(c.url, { connections: CONNECTIONS, seconds, threads: THREADS, headers: c.headers });
    return result;
  });
  return {
    rps: result.rps,
    p50us: result.p50us,
    p99us: result.p99us,
    cpuUs: cpu.main + cpu.workers + cpu.other,
    cpuSplitUs: { main: cpu.main, workers: cpu.workers, other: cpu.other },
    requests: result.requests,
    errors: result.errors,
  };
}

/** The median over rounds of `a`'s throughput divided by `b`'s in the same round. */
function ratio(runs: Record<string, Run[]>, a: string, b: string): number {
  return median(runs[a].map((run, i) => run.rps / runs[b][i].rps));
}

function fixed(n: number, digits = 0): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "–";
}

const missing = missingBenchTools();
if (missing.length) {
  console.error(
    `deno task bench needs ${missing.join(", ")}. On Debian or Ubuntu: ` +
      "sudo apt-get install wrk nginx-light libnginx-mod-http-js",
  );
  Deno.exit(1);
}

const stops: (() => Promise<void>)[] = [];
async function started<T extends Nginx | ChildServer | TestGateway>(thing: Promise<T>): Promise<T> {
  const it = await thing;
  stops.unshift(() => it.stop());
  return it;
}

try {
  const upstream = await started(startNginx());
  const nginx = await started(startNginx({ upstream: upstream.okUrl, njs: true }));
  const bare = await started(spawnServer(["-A", "--no-lock", BARE, "bare", upstream.okUrl]));
  const target = upstream.okUrl;
  const gateway = (apps: Record<string, unknown>, jsvm: boolean) =>
    started(startGateway({
      conf: { log_level: "warn", ...(jsvm ? { enable_jsvm: true } : {}) },
      files: jsvm ? PLUGIN_FILES : undefined,
      apps,
      denoFlags: PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${PROFILE}`] : undefined,
    }));
  const keyless = await gateway({ "keyless.json": keylessApi("keyless", "/keyless/", target) }, false);
  const hooks = await gateway({ "hooks.json": hookedApi("hooks", "/hooks/", target) }, true);
  const virtual = await gateway(
    { "virtual.json": virtualApi("virtual", "/virtual/", target, "answer") },
    true,
  );
  const limited = await gateway({ "keyed.json": tokenApi("keyed", "/keyed/", target) }, false);
  const relay = await gateway({ "relay.json": virtualApi("relay", "/relay/", target, "relay") }, true);
  const key = await limitedKey(limited, "keyed", "/keyed/");
  const upstreamWorker = await upstream.workerPid();
  const nginxWorker = await nginx.workerPid();

  const cases: Case[] = [
    {
      name: "upstream",
      label: "upstream alone (nginx `return 200`)",
      url: `${target}/x`,
      pid: upstreamWorker,
      body: "ok",
    },
    { name: "nginx", label: "nginx proxy", url: `${nginx.proxyUrl}/x`, pid: nginxWorker, body: "ok" },
    {
      name: "nginx-njs-filter",
      label: "nginx proxy + njs header filter",
      url: `${nginx.proxyUrl}/njs-filter/x`,
      pid: nginxWorker,
      body: "ok",
      header: ["x-njs", "1"],
    },
    {
      name: "nginx-js-content",
      label: "nginx `js_content` (answers from njs)",
      url: `${nginx.proxyUrl}/njs-content/x`,
      pid: nginxWorker,
      body: "ok",
    },
    {
      name: "bare",
      label: "bare Deno fetch proxy (12 lines)",
      url: `${bare.url}/x`,
      pid: bare.pid,
      body: "ok",
    },
    {
      name: "keyless",
      label: "Portcullis keyless",
      url: `${keyless.url}/keyless/x`,
      pid: keyless.pid,
      body: "ok",
    },
    {
      name: "hooks",
      label: "Portcullis pre + post hooks",
      url: `${hooks.url}/hooks/x`,
      pid: hooks.pid,
      body: "ok",
    },
    {
      name: "virtual",
      label: "Portcullis virtual endpoint (JSON)",
      url: `${virtual.url}/virtual/x`,
      pid: virtual.pid,
      body: /^\{"ok":true/,
    },
    {
      name: "limits",
      label: "Portcullis auth token + rate limit + quota",
      url: `${limited.url}/keyed/x`,
      pid: limited.pid,
      headers: { Authorization: key },
      body: "ok",
    },
    {
      name: "relay",
      label: "Portcullis plugin calling TykMakeHttpRequest",
      url: `${relay.url}/relay/x`,
      pid: relay.pid,
      body: "ok",
    },
  ];

  for (const c of cases) {
    await checkAnswer(c);
    if (WARM_UP_SECONDS) await measure(c, WARM_UP_SECONDS);
  }
  const runs: Record<string, Run[]> = Object.fromEntries(cases.map((c) => [c.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of rotated(cases, round)) runs[c.name].push(await measure(c, SECONDS));
  }

  const machine = await machineLine();
  const med = (name: string, field: "rps" | "p50us" | "p99us" | "cpuUs") =>
    median(runs[name].map((run) => run[field]));
  const results = cases.map((c) => ({
    name: c.name,
    label: c.label,
    rps: med(c.name, "rps"),
    p50us: med(c.name, "p50us"),
    p99us: med(c.name, "p99us"),
    cpuPerRequestUs: med(c.name, "cpuUs"),
    peakRssMiB: memoryKiB(c.pid, "VmHWM") / 1024,
    vsNginxProxy: ratio(runs, c.name, "nginx"),
    vsBareDenoProxy: ratio(runs, c.name, "bare"),
    errors: runs[c.name].reduce((n, run) => n + run.errors, 0),
    rounds: runs[c.name],
  }));
  const targets = {
    keylessVsBare: { measured: ratio(runs, "keyless", "bare"), target: ">= 1.0" },
    keylessVsNginx: { measured: ratio(runs, "keyless", "nginx"), target: ">= 0.5" },
    hooksVsKeyless: { measured: ratio(runs, "hooks", "keyless"), target: ">= 0.85" },
    hooksCpuAddedUs: { measured: med("hooks", "cpuUs") - med("keyless", "cpuUs"), target: "<= 60" },
    virtualVsKeyless: { measured: ratio(runs, "virtual", "keyless"), target: "(reported)" },
    njsFilterVsNginx: { measured: ratio(runs, "nginx-njs-filter", "nginx"), target: "(reference)" },
  };
  const settings = { connections: CONNECTIONS, wrkThreads: THREADS, seconds: SECONDS, rounds: ROUNDS };

  console.log(`\n## deno task bench (${machine})\n`);
  console.log(
    `wrk -c${CONNECTIONS} -t${THREADS}, ${ROUNDS} rotating rounds of ${SECONDS} s per case, nginx \`return 200\` upstream on loopback\n`,
  );
  console.log(
    "| case | req/s | p50 | p99 | CPU per request | peak RSS | vs nginx proxy | vs bare Deno proxy |",
  );
  console.log("|---|--:|--:|--:|--:|--:|--:|--:|");
  for (const r of results) {
    console.log(
      `| ${r.label} | ${fixed(r.rps)} | ${fixed(r.p50us)} µs | ${fixed(r.p99us)} µs | ${
        fixed(r.cpuPerRequestUs)
      } µs | ${fixed(r.peakRssMiB)} MiB | ${fixed(r.vsNginxProxy, 2)}× | ${fixed(r.vsBareDenoProxy, 2)}× |`,
    );
  }
  console.log(`\nPublished by Tyk, not measured here (${PUBLISHED.source}):`);
  for (const f of PUBLISHED.figures) {
    console.log(`- ${f.case}: ${f.rps} req/s, mean latency ${f.meanLatencyMs} ms`);
  }
  const t = targets;
  console.log(
    `\nkeyless ${fixed(t.keylessVsBare.measured, 2)}× bare Deno proxy (target ≥ 1.0), ${
      fixed(t.keylessVsNginx.measured, 2)
    }× nginx proxy (≥ 0.5); pre+post ${fixed(t.hooksVsKeyless.measured, 2)}× keyless (≥ 0.85), ${
      fixed(t.hooksCpuAddedUs.measured)
    } µs CPU added per request (≤ 60); virtual endpoint ${fixed(t.virtualVsKeyless.measured, 2)}× keyless; ` +
      `njs header filter ${fixed(t.njsFilterVsNginx.measured, 2)}× nginx proxy`,
  );
  const errors = results.reduce((n, r) => n + r.errors, 0);
  if (errors) console.log(`errors (non-2xx answers or socket errors): ${errors}`);

  await Deno.mkdir(OUT, { recursive: true });
  const file = `${OUT.replace(/\/$/, "")}/${
    new Date().toISOString().replace(/:/g, "-").replace(/\.\d+/, "")
  }.json`;
  await Deno.writeTextFile(
    file,
    JSON.stringify(
      {
        command: ["deno task bench", ...Deno.args].join(" "),
        machine,
        settings,
        cases: results,
        targets,
        published: PUBLISHED,
      },
      null,
      2,
    ) + "\n",
  );
  console.log(`\nwritten: ${file}`);
} finally {
  for (const stop of stops) await stop();
}
