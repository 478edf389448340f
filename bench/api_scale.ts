/**
 * How the gateway scales with the number of APIs that run JS: N keyless APIs, each with one `pre` hook (all
 * the same small file), against the same N APIs without JS, started alternately in one run.
 *
 *   deno run -A bench/api_scale.ts [--apis 1000] [--warm 100] [--cold 20] [--idle 60] [--rounds 2]
 *
 * Reports, per round: start-up time (process spawn to "listening"), RSS and threads when idle, the
 * gateway's first JS call (it boots a sandbox thread from nothing), the first-request latency of cold APIs
 * on a running gateway (each API's first JS call starts its sandbox on a spare thread) next to a warm
 * request, RSS with `--warm` APIs warm (the cold ones among them), RSS once `jsvm_idle_timeout` (`--idle` seconds) has released every sandbox,
 * the time of a reload of all N unchanged APIs, and a second start of the same folder.
 */
import { keylessApi, spawnGateway, startGateway, type TestGateway } from "../tests/support/gateway.ts";
import { workerThreads } from "../tests/support/thread_cpu.ts";
import { startOkUpstream } from "./_upstream.ts";
import { machineLine, median } from "./_wrk.ts";

const args = Deno.args;
const option = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const APIS = option("apis", 1000);
const WARM = Math.min(option("warm", 100), APIS);
const COLD = Math.min(option("cold", 20), WARM - 1);
const IDLE_S = option("idle", 60);
const ROUNDS = option("rounds", 2);

const PLUGIN = `var tag = new TykJS.TykMiddleware.NewMiddleware({});
tag.NewProcessRequest(function (request, session, spec) {
  request.SetHeaders["X-Tag"] = "scale";
  return tag.ReturnData(request, {});
});
`;

/** Resident memory in MiB: all of it, and the anonymous part (the rest maps the deno binary's pages). */
function rss(pid: number): { total: number; anon: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  return { total: kib("VmRSS") / 1024, anon: kib("RssAnon") / 1024 };
}

function threadCount(pid: number): number {
  return [...Deno.readDirSync(`/proc/${pid}/task`)].length;
}

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/** Threads of one sandbox (the sandbox and its launcher), and spares the gateway keeps booted. */
const THREADS_PER_SANDBOX = 2;
const SPARES = 2;
/** How long a spare whose threads are there may take to load its modules and prepare, on a busy machine. */
const BOOTED_MS = 2_000;

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + 30_000;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`Timed out waiting until ${what}`);
    await sleep(50);
  }
}

/** Milliseconds one GET takes; it must be served (a hook that failed would answer 500). */
async function timedGet(url: string): Promise<number> {
  const started = performance.now();
  const res = await fetch(url);
  await res.arrayBuffer();
  const ms = performance.now() - started;
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status}`);
  return ms;
}

/** RSS once it has settled: the lowest of a few reads a moment apart. */
async function settledRss(pid: number): Promise<{ total: number; anon: number }> {
  let low = { total: Infinity, anon: Infinity };
  for (let i = 0; i < 5; i++) {
    await sleep(200);
    const now = rss(pid);
    if (now.total < low.total) low = now;
  }
  return low;
}

function apps(target: string, js: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < APIS; i++) {
    const def = keylessApi(`api${i}`, `/api${i}/`, target);
    out[`api${i}.json`] = js
      ? { ...def, custom_middleware: { driver: "otto", pre: [{ name: "tag", path: "plugins/tag.js" }] } }
      : def;
  }
  return out;
}

type Rss = { total: number; anon: number };

interface Figures {
  startMs: number;
  idleMiB: Rss;
  threads: number;
  firstMs?: number;
  coldMs?: number;
  coldMaxMs?: number;
  warmMs?: number;
  warmMiB?: Rss;
  warmWorkers?: number;
  afterIdleMiB?: Rss;
  reloadMs: number;
  restartMs: number;
  restartMiB: Rss;
}

async function measure(target: string, js: boolean): Promise<Figures> {
  const dir = await Deno.makeTempDir({ prefix: "portcullis-scale-" });
  const conf = { enable_jsvm: true, log_level: "warn", jsvm_idle_timeout: IDLE_S };
  let gw: TestGateway | null = null;
  try {
    let started = performance.now();
    gw = await startGateway({ dir, conf, files: { "plugins/tag.js": PLUGIN }, apps: apps(target, js) });
    const startMs = performance.now() - started;
    const idleMiB = await settledRss(gw.pid);
    const figures: Figures = {
      startMs,
      idleMiB,
      threads: threadCount(gw.pid),
      reloadMs: 0,
      restartMs: 0,
      restartMiB: { total: 0, anon: 0 },
    };
    if (js) {
      // The gateway's first JS call boots a sandbox thread from nothing: no spare exists before it.
      figures.firstMs = await timedGet(`${gw.url}/api0/`);
      // Cold APIs on a running gateway: each one's first request starts its sandbox on a spare, once the
      // spares have booted; the second request is served warm.
      const cold: number[] = [];
      const warm: number[] = [];
      const { pid, url } = gw;
      for (let i = 1; i <= COLD; i++) {
        await until(
          () => workerThreads(pid).length === THREADS_PER_SANDBOX * (i + SPARES),
          "the spares boot",
        );
        await sleep(BOOTED_MS); // their threads are there: now their modules load and they prepare
        cold.push(await timedGet(`${gw.url}/api${i}/`));
        warm.push(await timedGet(`${gw.url}/api${i}/`));
      }
      figures.coldMs = median(cold);
      figures.coldMaxMs = Math.max(...cold);
      figures.warmMs = median(warm);
      // Every one of the first WARM APIs (the cold ones again), a few at a time: all within the idle timeout
      const next = { i: 0 };
      const lane = async () => {
        while (next.i < WARM) await timedGet(`${url}/api${next.i++}/`);
      };
      await Promise.all(Array.from({ length: 8 }, lane));
      figures.warmMiB = await settledRss(gw.pid);
      figures.warmWorkers = workerThreads(gw.pid).length / THREADS_PER_SANDBOX;
      // jsvm_idle_timeout releases every sandbox, and the spares
      const deadline = performance.now() + IDLE_S * 1000 + 30_000;
      while (workerThreads(gw.pid).length > 0) {
        if (performance.now() > deadline) throw new Error("the sandboxes were not released");
        await sleep(200);
      }
      figures.afterIdleMiB = await settledRss(gw.pid);
    }
    started = performance.now();
    const reloaded = await gw.admin("/tyk/reload?block=true");
    await reloaded.body?.cancel();
    figures.reloadMs = performance.now() - started;
    await gw.stop();
    gw = null;
    // A second start of the same folder (the embedded store's files are there now).
    started = performance.now();
    gw = await spawnGateway(dir);
    figures.restartMs = performance.now() - started;
    figures.restartMiB = await settledRss(gw.pid);
    return figures;
  } finally {
    await gw?.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

const f0 = (n: number | undefined) => n === undefined ? "–" : n.toFixed(0);
const f1 = (n: number | undefined) => n === undefined ? "–" : n.toFixed(1);
/** "total (anonymous)" MiB. */
const mem = (r: Rss | undefined) => r === undefined ? "–" : `${f0(r.total)} (${f0(r.anon)})`;
const ratio = (a: Rss | undefined, b: Rss) =>
  a === undefined ? "–" : `${(a.total / b.total).toFixed(2)}× (${(a.anon / b.anon).toFixed(2)}×)`;

const upstream = await startOkUpstream();
try {
  console.log(`\n## API count (${await machineLine()})\n`);
  console.log(
    `${APIS} keyless APIs; "js": each with one pre hook (the same file), jsvm_idle_timeout ${IDLE_S} s. ` +
      `First: the gateway's first JS call. Cold: median (max) of ${COLD} APIs' first request, each once ` +
      `the spares booted; warm: their second. ` +
      `RSS in MiB, total (anonymous); "after idle": once every sandbox was released.\n`,
  );
  console.log(
    `| round | APIs | start s | RSS idle | threads | first ms | cold ms | warm ms | RSS ${WARM} warm | sandboxes | ` +
      "RSS after idle | after idle / idle | reload ms | 2nd start s | 2nd start RSS |",
  );
  console.log("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
  for (let round = 1; round <= ROUNDS; round++) {
    for (const js of [false, true]) {
      const f = await measure(upstream.url, js);
      const cold = f.coldMs === undefined ? "–" : `${f1(f.coldMs)} (${f0(f.coldMaxMs)})`;
      console.log(
        `| ${round} | ${js ? "js" : "no js"} | ${(f.startMs / 1000).toFixed(2)} | ${mem(f.idleMiB)} | ` +
          `${f.threads} | ${f0(f.firstMs)} | ${cold} | ${f1(f.warmMs)} | ${mem(f.warmMiB)} | ${
            f.warmWorkers ?? "–"
          } | ` +
          `${mem(f.afterIdleMiB)} | ${ratio(f.afterIdleMiB, f.idleMiB)} | ${f0(f.reloadMs)} | ` +
          `${(f.restartMs / 1000).toFixed(2)} | ${mem(f.restartMiB)} |`,
      );
    }
  }
} finally {
  await upstream.stop();
}
