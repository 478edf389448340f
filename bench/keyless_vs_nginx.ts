/**
 * Is a keyless API on Portcullis as fast as the simplest Deno proxy, and how far from nginx? Three proxies in
 * front of the same nginx `return 200` upstream, run interleaved with wrk (32 connections): nginx's own
 * keep-alive proxy (one worker), the bare 12-line Deno fetch proxy (bench/_client_proxy.ts bare), and the
 * gateway with one keyless API. Reports each as a ratio to the others from the same run, and each proxy
 * process's CPU per request (all threads), which moves far less than throughput on a shared machine.
 *
 *   deno run -A bench/keyless_vs_nginx.ts [--seconds 5] [--rounds 5] [--profile <dir>]
 *
 * `--profile <dir>` runs the gateway with `--cpu-prof --cpu-prof-dir=<dir>` (one .cpuprofile per isolate,
 * written when it stops) for a look at where its time goes.
 */
import { keylessApi, startGateway } from "../tests/support/gateway.ts";
import { spawnServer } from "./_child.ts";
import { cpuPerRequest } from "./_cpu.ts";
import { startNginx } from "./_nginx.ts";
import { machineLine, median, option, wrk } from "./_wrk.ts";

const SECONDS = Number(option("seconds", "5"));
const ROUNDS = Number(option("rounds", "5"));
const PROFILE = option("profile", "");
const BARE = new URL("./_client_proxy.ts", import.meta.url).pathname;

const nginx = await startNginx();
const bare = await spawnServer(["-A", "--no-lock", BARE, "bare", nginx.okUrl]);
const gateway = await startGateway({
  conf: { log_level: "warn" },
  apps: { "keyless.json": keylessApi("keyless", "/keyless/", nginx.okUrl) },
  denoFlags: PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${PROFILE}`] : undefined,
});

/** What each case is: its URL and the process whose CPU is counted. */
const cases: Record<string, { url: string; pid: number }> = {
  nginx: { url: `${nginx.proxyUrl}/x`, pid: nginx.pid },
  bare: { url: `${bare.url}/x`, pid: bare.pid },
  keyless: { url: `${gateway.url}/keyless/x`, pid: gateway.pid },
};

/** CPU of nginx: its workers are children of the master, so count the worker's pid. */
async function nginxWorker(master: number): Promise<number> {
  const children = await Deno.readTextFile(`/proc/${master}/task/${master}/children`);
  return Number(children.trim().split(/\s+/)[0]) || master;
}

try {
  cases.nginx.pid = await nginxWorker(nginx.pid);
  /** Requests each case served, warm-up included (to read a CPU profile per request). */
  const served: Record<string, number> = {};
  for (const [name, c] of Object.entries(cases)) {
    const res = await fetch(c.url);
    if (res.status !== 200 || (await res.text()) !== "ok") throw new Error(`${name} did not answer ok`);
    served[name] = 1 + (await wrk(c.url, { connections: 32, seconds: 2, threads: 2 })).requests;
  }
  const rps: Record<string, number[]> = {};
  const cpu: Record<string, number[]> = {};
  let errors = 0;
  const order = Object.keys(cases);
  for (let round = 0; round < ROUNDS; round++) {
    const rotated = [...order.slice(round % order.length), ...order.slice(0, round % order.length)];
    for (const name of rotated) {
      let rate = 0;
      const used = await cpuPerRequest(cases[name].pid, async () => {
        const result = await wrk(cases[name].url, { connections: 32, seconds: SECONDS, threads: 2 });
        rate = result.rps;
        errors += result.errors;
        served[name] += result.requests;
        return result;
      });
      (rps[name] ??= []).push(rate);
      (cpu[name] ??= []).push(used.main + used.workers + used.other);
    }
  }
  const m = (name: string) => median(rps[name]);
  console.log(`\n## Keyless proxy against a bare Deno proxy and nginx (${await machineLine()})\n`);
  console.log(`wrk -c32 -t2, ${ROUNDS} interleaved rounds of ${SECONDS} s, nginx \`return 200\` upstream\n`);
  console.log("| proxy | throughput vs nginx | vs bare Deno proxy | CPU per request (all threads) |");
  console.log("|---|---|---|---|");
  for (const name of order) {
    console.log(
      `| ${name} | ${(m(name) / m("nginx")).toFixed(2)}× | ${(m(name) / m("bare")).toFixed(2)}× | ${
        median(cpu[name]).toFixed(0)
      } µs |`,
    );
  }
  console.log(
    `\nper round, keyless/bare: ${rps.keyless.map((r, i) => (r / rps.bare[i]).toFixed(2)).join(" ")}`,
  );
  console.log(
    `per round, keyless/nginx: ${rps.keyless.map((r, i) => (r / rps.nginx[i]).toFixed(2)).join(" ")}`,
  );
  console.log(`errors: ${errors}; requests served by the gateway: ${served.keyless}`);
} finally {
  await gateway.stop();
  await bare.stop();
  await nginx.stop();
}
