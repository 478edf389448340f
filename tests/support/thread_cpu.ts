/**
 * CPU time of a process's threads, read from /proc (Linux): how benchmarks split a request's cost by thread
 * kind, and how tests prove that a runaway sandbox thread really stopped, not only that its call failed.
 */

/** CPU seconds of one process's threads, by kind. */
export interface ThreadCpu {
  /** The process's first thread: the gateway's event loop. */
  main: number;
  /** Workers (Deno names their threads `worker-N`): the JS sandboxes. */
  workers: number;
  /** Everything else: Tokio's I/O threads, V8's compiler and GC helpers. */
  other: number;
}

const TICKS_PER_SECOND = 100; // USER_HZ, fixed at 100 in Linux's user-visible interface

/**
 * Thread id → name, scheduler state (`R` running or runnable, `S` asleep…) and CPU seconds. Read through
 * `cat`: Deno lets a process read /proc only with every permission, and tests run with fewer.
 */
function threads(pid: number): Map<number, { name: string; state: string; seconds: number }> {
  const out = new Map<number, { name: string; state: string; seconds: number }>();
  const { stdout } = new Deno.Command("sh", {
    args: ["-c", 'cat /proc/"$0"/task/*/stat 2>/dev/null', String(pid)],
    stdout: "piped",
    stderr: "null",
  }).outputSync();
  for (const stat of new TextDecoder().decode(stdout).split("\n")) {
    if (stat === "") continue;
    // the name sits in parentheses and may contain spaces: fields after it start at index 2 (state)
    const close = stat.lastIndexOf(")");
    const name = stat.slice(stat.indexOf("(") + 1, close);
    const fields = stat.slice(close + 2).split(" ");
    out.set(Number(stat.slice(0, stat.indexOf(" "))), {
      name,
      state: fields[0],
      seconds: (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND,
    });
  }
  return out;
}

/** The names of `pid`'s Worker threads, sorted (`worker-N`, N counting up as Workers are made): one per JS sandbox. */
export function workerThreads(pid: number = Deno.pid): string[] {
  return [...threads(pid).values()].map(({ name }) => name).filter((name) => name.startsWith("worker-"))
    .sort();
}

/** Reads the CPU time of every live thread of `pid`. */
export function threadCpu(pid: number): ThreadCpu {
  const out: ThreadCpu = { main: 0, workers: 0, other: 0 };
  for (const [tid, { name, seconds }] of threads(pid)) {
    out[tid === pid ? "main" : name.startsWith("worker-") ? "workers" : "other"] += seconds;
  }
  return out;
}

const WINDOW_MS = 200;
const SAMPLES = 10;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The worker threads of `pid` that were busy over the next 200 ms: running or waiting for a core in at
 * least half of 10 looks, or using 40% of a core. A runaway thread is (on a machine whose cores other
 * processes keep busy it gets little CPU but stays runnable; one that allocates a lot sometimes waits for
 * the garbage collector, but gets the CPU); an idle sandbox sleeps.
 */
export async function busyWorkerThreads(pid: number = Deno.pid): Promise<Set<number>> {
  const running = new Map<number, number>();
  const first = threads(pid);
  const started = performance.now();
  let last = first;
  for (let i = 0; i < SAMPLES; i++) {
    await sleep(WINDOW_MS / SAMPLES);
    last = threads(pid);
    for (const [tid, { name, state }] of last) {
      if (name.startsWith("worker-") && state === "R") running.set(tid, (running.get(tid) ?? 0) + 1);
    }
  }
  const elapsed = (performance.now() - started) / 1000;
  const busy = new Set<number>();
  for (const [tid, { name, seconds }] of last) {
    if (!name.startsWith("worker-")) continue;
    const share = (seconds - (first.get(tid)?.seconds ?? seconds)) / elapsed;
    if ((running.get(tid) ?? 0) >= SAMPLES / 2 || share >= 0.4) busy.add(tid);
  }
  return busy;
}

/**
 * Resolves once every thread in `tids` of `pid` is gone or idle over a 200 ms window; rejects when that
 * does not happen within `withinMs`, naming the threads still busy.
 */
export async function threadsStop(tids: Set<number>, options: { pid?: number; withinMs?: number } = {}) {
  const { pid = Deno.pid, withinMs = 1_000 } = options;
  const until = performance.now() + withinMs;
  let busy = [...tids];
  while (performance.now() < until) {
    const now = await busyWorkerThreads(pid);
    busy = [...tids].filter((tid) => now.has(tid));
    if (busy.length === 0) return;
  }
  throw new Error(`Threads ${busy.join(", ")} of process ${pid} were still busy after ${withinMs} ms`);
}

/**
 * Resolves once no worker thread of `pid` keeps a core busy over a 200 ms window, that is, no runaway
 * sandbox thread is left; rejects after `rounds` busy windows.
 */
export async function noThreadSpins(rounds = 10, pid: number = Deno.pid): Promise<void> {
  let busy = new Set<number>();
  for (let i = 0; i < rounds; i++) {
    busy = await busyWorkerThreads(pid);
    if (busy.size === 0) return;
  }
  throw new Error(`Worker threads ${[...busy].join(", ")} stayed busy for ${rounds * WINDOW_MS} ms`);
}
