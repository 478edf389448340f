/**
 * Proxy throughput of this checkout against another one (say, main before a change), in one run: both
 * gateways proxy to the same upstream and wrk alternates between them, so the ratio holds on a shared machine
 * where the absolute figures drift. A keyless API always; with `--hooks`, also a keyless API with an otto
 * `pre` and `post` hook (bench/_hooked_api.ts), measured in the same rounds.
 *
 *   git archive <commit> | tar -x -C /tmp/before && (cd /tmp/before && deno install)
 *   deno run -A bench/keyless_ab.ts --before /tmp/before [--hooks] [--seconds 5] [--rounds 5] [--connections 32]
 *     [--conf '{"jsvm_fuse_hooks":false}'] [--before-conf '{…}']
 *
 * `--conf` adds tyk.conf fields to this checkout's gateway, `--before-conf` to the other's: with the same
 * checkout on both sides, a setting against another.
 * Prints each round, the medians, the ratio this/before per API, and the gateways' CPU per request.
 */
import { resolve } from "node:path";
import { keylessApi, startGateway as startThis } from "../tests/support/gateway.ts";
import { HOOK_FILES, hookedApi } from "./_hooked_api.ts";
import { startOkUpstream } from "./_upstream.ts";
import { machineLine, median, option, wrk } from "./_wrk.ts";
import { cpuPerRequest, type ThreadCpu } from "./_cpu.ts";

const BEFORE = option("before", "");
if (!BEFORE) {
  console.error(
    "Usage: deno run -A bench/keyless_ab.ts --before <checkout> [--hooks] [--seconds 5] [--rounds 5]",
  );
  Deno.exit(2);
}
const SECONDS = Number(option("seconds", "5"));
const ROUNDS = Number(option("rounds", "5"));
const CONNECTIONS = Number(option("connections", "32"));
const APIS = Deno.args.includes("--hooks") ? ["plain", "hooks"] as const : ["plain"] as const;
const CONF = JSON.parse(option("conf", "{}")) as Record<string, unknown>;
const BEFORE_CONF = JSON.parse(option("before-conf", "{}")) as Record<string, unknown>;

// the other checkout's own test helper starts the other checkout's main.ts
const other = await import(resolve(BEFORE, "tests/support/gateway.ts")) as {
  startGateway: typeof startThis;
};

const upstream = await startOkUpstream();
const setup = (conf: Record<string, unknown>) => ({
  conf: { log_level: "warn", enable_jsvm: true, ...conf },
  files: HOOK_FILES,
  apps: {
    "plain.json": keylessApi("plain", "/plain/", upstream.url),
    "hooks.json": hookedApi("hooks", "/hooks/", upstream.url),
  },
});
const gateways = { before: await other.startGateway(setup(BEFORE_CONF)), this: await startThis(setup(CONF)) };
const names = ["before", "this"] as const;
type Runs = Record<(typeof names)[number], number[]>;

try {
  for (const name of names) {
    for (const api of APIS) await wrk(`${gateways[name].url}/${api}/x`, { connections: 8, seconds: 2 });
  }
  const rps: Record<string, Runs> = {};
  const cpu: Record<string, Runs> = {};
  const split: Record<string, Record<(typeof names)[number], ThreadCpu[]>> = {};
  for (const api of APIS) {
    rps[api] = { before: [], this: [] };
    cpu[api] = { before: [], this: [] };
    split[api] = { before: [], this: [] };
  }
  let errors = 0;
  for (let round = 0; round < ROUNDS; round++) {
    for (const api of APIS) {
      // ABBA order: neither side always runs first
      const order = round % 2 === 0 ? names : [...names].reverse();
      for (const name of order) {
        const gw = gateways[name];
        let result = { rps: 0, requests: 0, errors: 0 };
        const used = await cpuPerRequest(gw.pid, async () => {
          result = await wrk(`${gw.url}/${api}/x`, {
            connections: CONNECTIONS,
            seconds: SECONDS,
            threads: 2,
          });
          return result;
        });
        rps[api][name].push(result.rps);
        cpu[api][name].push(used.main + used.workers + used.other);
        split[api][name].push(used);
        errors += result.errors;
        console.log(`round ${round + 1} ${api} ${name}: ${result.rps.toFixed(0)} req/s`);
      }
    }
  }
  console.log(`\n## Proxy, this checkout against ${BEFORE} (${await machineLine()})\n`);
  console.log(
    "| API | gateway | req/s (median) | every round | CPU per request, all threads (main / sandboxes / other) |",
  );
  console.log("|---|---|---|---|---|");
  const part = (runs: ThreadCpu[], kind: keyof ThreadCpu) => median(runs.map((r) => r[kind])).toFixed(0);
  for (const api of APIS) {
    for (const name of names) {
      const runs = rps[api][name];
      console.log(
        `| ${api} | ${name} | ${median(runs).toFixed(0)} | ${runs.map((r) => r.toFixed(0)).join(", ")} | ${
          median(cpu[api][name]).toFixed(1)
        } µs (${part(split[api][name], "main")} / ${part(split[api][name], "workers")} / ${
          part(split[api][name], "other")
        }) |`,
      );
    }
  }
  for (const api of APIS) {
    const paired = rps[api].this.map((r, i) => r / rps[api].before[i]);
    console.log(
      `\n${api}: this / before ${(median(rps[api].this) / median(rps[api].before)).toFixed(3)} (medians); ` +
        `per round ${paired.map((r) => r.toFixed(2)).join(", ")}; CPU per request ${
          (median(cpu[api].this) / median(cpu[api].before)).toFixed(3)
        }×`,
    );
  }
  if (APIS.length === 2) {
    const ratio = (name: (typeof names)[number]) => median(rps.hooks[name]) / median(rps.plain[name]);
    const added = (name: (typeof names)[number]) => median(cpu.hooks[name]) - median(cpu.plain[name]);
    console.log(
      `\nhooks / keyless: before ${ratio("before").toFixed(2)}×, this ${
        ratio("this").toFixed(2)
      }×; CPU the ` +
        `hooks add: before ${added("before").toFixed(1)} µs, this ${added("this").toFixed(1)} µs`,
    );
  }
  console.log(`errors: ${errors}; ${ROUNDS} rounds × ${SECONDS} s, ${CONNECTIONS} connections`);
} finally {
  await gateways.before.stop();
  await gateways.this.stop();
  await upstream.stop();
}
