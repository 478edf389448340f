/**
 * Soak: reloads an API that has JS plugins many times and reports the gateway's RSS before and after
 * (Tyk has an open out-of-memory bug here). Each reload builds new sandboxes and retires the old ones.
 *
 *   deno run -A bench/reload_soak.ts [--reloads 2000]
 */
import { keylessApi, startGateway } from "../tests/support/gateway.ts";
import { startOkUpstream } from "./_upstream.ts";
import { memoryKiB } from "./_cpu.ts";
import { machineLine } from "./_wrk.ts";

const i = Deno.args.indexOf("--reloads");
const RELOADS = i >= 0 ? Number(Deno.args[i + 1]) : 2000;
const WARMUP = 50;

const PLUGIN = `var tag = new TykJS.TykMiddleware.NewMiddleware({});
tag.NewProcessRequest(function (request, session, spec) {
  request.SetHeaders["X-Tag"] = _.uniq(["a", "a", "b"]).join(",");
  return tag.ReturnData(request, {});
});
`;

/**
 * Threads of the process, all of them and the Workers' ("worker-N"): retired sandboxes whose Worker never
 * ends show up there first. The total also moves with Deno's pool for blocking file reads, whose threads
 * exit after 10 s idle.
 */
function threads(pid: number): string {
  let workers = 0;
  let total = 0;
  for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
    total++;
    if (Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/comm`).startsWith("worker-")) workers++;
  }
  return `${total} (${workers} Workers)`;
}

const upstream = await startOkUpstream();
const target = upstream.url;
const gw = await startGateway({
  conf: { enable_jsvm: true, log_level: "warn" },
  files: { "plugins/tag.js": PLUGIN },
  apps: {
    "js.json": {
      ...keylessApi("js", "/js/", target),
      custom_middleware: { driver: "otto", pre: [{ name: "tag", path: "plugins/tag.js" }] },
    },
  },
});

async function reloadAndCall(): Promise<void> {
  await (await gw.admin("/tyk/reload?block=true")).body?.cancel();
  const res = await fetch(`${gw.url}/js/`);
  if (res.status !== 200) throw new Error(`request after reload failed: ${res.status} ${await res.text()}`);
  await res.body?.cancel();
}

try {
  for (let n = 0; n < WARMUP; n++) await reloadAndCall();
  const before = memoryKiB(gw.pid, "VmRSS");
  const threadsBefore = threads(gw.pid);
  const started = performance.now();
  const samples: number[] = [];
  for (let n = 1; n <= RELOADS; n++) {
    await reloadAndCall();
    if (n % Math.max(1, Math.floor(RELOADS / 10)) === 0) samples.push(memoryKiB(gw.pid, "VmRSS"));
  }
  const after = memoryKiB(gw.pid, "VmRSS");
  const threadsAfter = threads(gw.pid);
  const seconds = (performance.now() - started) / 1000;
  await new Promise((resolve) => setTimeout(resolve, 2_000)); // retired pools finish closing
  const threadsSettled = threads(gw.pid);
  console.log(`\n## Reload soak (${await machineLine()})\n`);
  console.log(
    `${RELOADS} reloads of an API with a JS plugin (each followed by one request) in ${seconds.toFixed(1)} s`,
  );
  console.log(
    `RSS after ${WARMUP} warm-up reloads: ${(before / 1024).toFixed(1)} MiB; after ${RELOADS} more: ${
      (after / 1024).toFixed(1)
    } MiB (${(after / before).toFixed(2)}×)`,
  );
  console.log(`RSS samples (MiB): ${samples.map((s) => (s / 1024).toFixed(1)).join(", ")}`);
  console.log(`Threads: ${threadsBefore} before, ${threadsAfter} after, ${threadsSettled} 2 s later`);
} finally {
  await gw.stop();
  await upstream.stop();
}
