/**
 * What a pre and a post hook cost, this checkout against another one (say, main before a change), in one
 * run: each gateway serves the keyless proxy and the same API with the two hooks of `proxy_hooks.ts`, and
 * wrk alternates between the four (ABBA order), so the ratios hold on a shared machine.
 *
 *   git archive <commit> | tar -x -C /tmp/before && (cd /tmp/before && deno install)
 *   deno run -A bench/hooks_ab.ts --before /tmp/before [--seconds 4] [--rounds 4] [--conf '{"jsvm_fuse_hooks":false}']
 *
 * `--conf` adds tyk.conf fields to this checkout's gateway only (compare a setting against the default),
 * `--before-conf` to the other's.
 * Prints, per gateway, hooked req/s against keyless req/s and the CPU a request costs by thread, and the
 * CPU the two hooks add to a request, all threads.
 */
import { resolve } from "node:path";
import { keylessApi, startGateway as startThis } from "../tests/support/gateway.ts";
import { startOkUpstream } from "./_upstream.ts";
import { machineLine, median, option, wrk } from "./_wrk.ts";
import { cpuPerRequest, type ThreadCpu } from "./_cpu.ts";

const BEFORE = option("before", "");
if (!BEFORE) {
  console.error(
    "Usage: deno run -A bench/hooks_ab.ts --before <checkout> [--seconds 4] [--rounds 4] [--conf <json>]",
  );
  Deno.exit(2);
}
const SECONDS = Number(option("seconds", "4"));
const ROUNDS = Number(option("rounds", "4"));
const CONF = JSON.parse(option("conf", "{}")) as Record<string, unknown>;
const BEFORE_CONF = JSON.parse(option("before-conf", "{}")) as Record<string, unknown>;

const HOOK = (name: string) =>
  `var ${name} = new TykJS.TykMiddleware.NewMiddleware({});
${name}.NewProcessRequest(function (request, session, spec) {
  request.SetHeaders["X-${name}"] = "1";
  return ${name}.ReturnData(request, {});
});
`;

// the other checkout's own test helper starts the other checkout's main.ts
const other = await import(resolve(BEFORE, "tests/support/gateway.ts")) as { startGateway: typeof startThis };
const upstream = await startOkUpstream();
const setup = (conf: Record<string, unknown>) => ({
  conf: { enable_jsvm: true, log_level: "warn", ...conf },
  files: { "plugins/preHook.js": HOOK("preHook"), "plugins/postHook.js": HOOK("postHook") },
  apps: {
    "plain.json": keylessApi("plain", "/plain/", upstream.url),
    "hooks.json": {
      ...keylessApi("hooks", "/hooks/", upstream.url),
      custom_middleware: {
        driver: "otto",
        pre: [{ name: "preHook", path: "plugins/preHook.js" }],
        post: [{ name: "postHook", path: "plugins/postHook.js" }],
      },
    },
  },
});
const gateways = { before: await other.startGateway(setup(BEFORE_CONF)), this: await startThis(setup(CONF)) };
const names = ["before", "this"] as const;
const apis = ["plain", "hooks"] as const;
type Runs = Record<(typeof apis)[number], { rps: number[]; cpu: ThreadCpu[] }>;
const runs: Record<(typeof names)[number], Runs> = {
  before: { plain: { rps: [], cpu: [] }, hooks: { rps: [], cpu: [] } },
  this: { plain: { rps: [], cpu: [] }, hooks: { rps: [], cpu: [] } },
};

try {
  for (const name of names) {
    for (const api of apis) await wrk(`${gateways[name].url}/${api}/x`, { connections: 8, seconds: 2 });
  }
  let errors = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? names : [...names].reverse();
    for (const name of order) {
      for (const api of round % 2 === 0 ? apis : [...apis].reverse()) {
        const gw = gateways[name];
        let result = { rps: 0, requests: 0, errors: 0 };
        const used = await cpuPerRequest(gw.pid, async () => {
          result = await wrk(`${gw.url}/${api}/x`, { connections: 32, seconds: SECONDS, threads: 2 });
          return result;
        });
        runs[name][api].rps.push(result.rps);
        runs[name][api].cpu.push(used);
        errors += result.errors;
      }
    }
  }
  const total = (cpu: ThreadCpu[]) => median(cpu.map((c) => c.main + c.workers + c.other));
  const part = (cpu: ThreadCpu[], kind: keyof ThreadCpu) => median(cpu.map((c) => c[kind])).toFixed(0);
  console.log(`\n## Pre + post hooks, this checkout against ${BEFORE} (${await machineLine()})\n`);
  console.log(
    "| gateway | keyless req/s | hooks req/s | hooks / keyless | CPU per hooked request (main / sandboxes / other) | CPU the two hooks add |",
  );
  console.log("|---|---|---|---|---|---|");
  const added: Record<string, number> = {};
  for (const name of names) {
    const { plain, hooks } = runs[name];
    added[name] = total(hooks.cpu) - total(plain.cpu);
    console.log(
      `| ${name} | ${median(plain.rps).toFixed(0)} | ${median(hooks.rps).toFixed(0)} | ${
        (median(hooks.rps) / median(plain.rps)).toFixed(2)
      }× | ${part(hooks.cpu, "main")} / ${part(hooks.cpu, "workers")} / ${part(hooks.cpu, "other")} µs | ${
        added[name].toFixed(1)
      } µs |`,
    );
  }
  const ratio = (name: (typeof names)[number]) => median(runs[name].hooks.rps) / median(runs[name].plain.rps);
  console.log(
    `\nthis / before: hooks / keyless ${(ratio("this") / ratio("before")).toFixed(2)}×; CPU the hooks add ${
      (added.this / added.before).toFixed(2)
    }×`,
  );
  console.log(`errors: ${errors}; ${ROUNDS} rounds × ${SECONDS} s per gateway and API, 32 connections`);
} finally {
  await gateways.before.stop();
  await gateways.this.stop();
  await upstream.stop();
}
