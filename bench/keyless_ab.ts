/**
 * Keyless proxy throughput of this checkout against another one (say, main before a change), in one run:
 * both gateways proxy to the same upstream and wrk alternates between them, so the ratio holds on a shared
 * machine where the absolute figures drift.
 *
 *   git archive <commit> | tar -x -C /tmp/before && (cd /tmp/before && deno install)
 *   deno run -A bench/keyless_ab.ts --before /tmp/before [--seconds 5] [--rounds 5] [--connections 32]
 *
 * Prints each round, the medians, the ratio this/before, and the gateways' CPU per request.
 */
import { resolve } from "node:path";
import { keylessApi, startGateway as startThis } from "../tests/support/gateway.ts";
import { startOkUpstream } from "./_upstream.ts";
import { machineLine, median, wrk } from "./_wrk.ts";
import { cpuPerRequest } from "./_cpu.ts";

const args = Deno.args;
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const BEFORE = option("before", "");
if (!BEFORE) {
  console.error("Usage: deno run -A bench/keyless_ab.ts --before <checkout> [--seconds 5] [--rounds 5]");
  Deno.exit(2);
}
const SECONDS = Number(option("seconds", "5"));
const ROUNDS = Number(option("rounds", "5"));
const CONNECTIONS = Number(option("connections", "32"));

// the other checkout's own test helper starts the other checkout's main.ts
const other = await import(resolve(BEFORE, "tests/support/gateway.ts")) as {
  startGateway: typeof startThis;
};

const upstream = await startOkUpstream();
const setup = {
  conf: { log_level: "warn" },
  apps: { "plain.json": keylessApi("plain", "/plain/", upstream.url) },
};
const gateways = { before: await other.startGateway(setup), this: await startThis(setup) };
const names = ["before", "this"] as const;

try {
  for (const name of names) await wrk(`${gateways[name].url}/plain/x`, { connections: 8, seconds: 2 });
  const rps = { before: [] as number[], this: [] as number[] };
  const cpu = { before: [] as number[], this: [] as number[] };
  let errors = 0;
  for (let round = 0; round < ROUNDS; round++) {
    // ABBA order: neither side always runs first
    const order = round % 2 === 0 ? names : [...names].reverse();
    for (const name of order) {
      const gw = gateways[name];
      let result = { rps: 0, requests: 0, errors: 0 };
      const used = await cpuPerRequest(gw.pid, async () => {
        result = await wrk(`${gw.url}/plain/x`, { connections: CONNECTIONS, seconds: SECONDS, threads: 2 });
        return result;
      });
      rps[name].push(result.rps);
      cpu[name].push(used.main + used.workers + used.other);
      errors += result.errors;
      console.log(`round ${round + 1} ${name}: ${result.rps.toFixed(0)} req/s`);
    }
  }
  console.log(`\n## Keyless proxy, this checkout against ${BEFORE} (${await machineLine()})\n`);
  console.log("| gateway | req/s (median) | every round | CPU per request, all threads |");
  console.log("|---|---|---|---|");
  for (const name of names) {
    console.log(
      `| ${name} | ${median(rps[name]).toFixed(0)} | ${rps[name].map((r) => r.toFixed(0)).join(", ")} | ${
        median(cpu[name]).toFixed(1)
      } µs |`,
    );
  }
  const paired = rps.this.map((r, i) => r / rps.before[i]);
  console.log(
    `\nthis / before: ${(median(rps.this) / median(rps.before)).toFixed(3)} (medians); per round ${
      paired.map((r) => r.toFixed(2)).join(", ")
    }; CPU per request ${(median(cpu.this) / median(cpu.before)).toFixed(3)}×`,
  );
  console.log(`errors: ${errors}; ${ROUNDS} rounds × ${SECONDS} s, ${CONNECTIONS} connections`);
} finally {
  await gateways.before.stop();
  await gateways.this.stop();
  await upstream.stop();
}
