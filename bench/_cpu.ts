/**
 * CPU time a process spent, split by thread kind, read from /proc (Linux). On a shared machine the CPU a
 * request costs moves far less between runs than how many requests per second fit.
 */

/** CPU seconds of one process's threads, by kind. */
export interface ThreadCpu {
  /** The process's first thread: the gateway's event loop. */
  main: number;
  /** Web Workers (Deno names their threads `worker-N`): the JS sandboxes. */
  workers: number;
  /** Everything else: Tokio's I/O threads, V8's compiler and GC helpers. */
  other: number;
}

const TICKS_PER_SECOND = 100; // USER_HZ, fixed at 100 in Linux's user-visible interface

/** Reads the CPU time of every live thread of `pid`. */
export function threadCpu(pid: number): ThreadCpu {
  const out: ThreadCpu = { main: 0, workers: 0, other: 0 };
  for (const entry of Deno.readDirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = Deno.readTextFileSync(`/proc/${pid}/task/${entry.name}/stat`);
    } catch {
      continue; // the thread ended meanwhile
    }
    // the name sits in parentheses and may contain spaces: fields after it start at index 2 (state)
    const close = stat.lastIndexOf(")");
    const name = stat.slice(stat.indexOf("(") + 1, close);
    const fields = stat.slice(close + 2).split(" ");
    const seconds = (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND; // utime, stime
    const kind = Number(entry.name) === pid ? "main" : name.startsWith("worker-") ? "workers" : "other";
    out[kind] += seconds;
  }
  return out;
}

/**
 * The CPU `pid` spent while `run` ran, in µs per request, by thread kind. Threads that ended meanwhile
 * (a retired sandbox) are not counted, so keep the setup stable while measuring.
 */
export async function cpuPerRequest(
  pid: number,
  run: () => Promise<{ requests: number }>,
): Promise<ThreadCpu & { requests: number }> {
  const before = threadCpu(pid);
  const { requests } = await run();
  const after = threadCpu(pid);
  const per = (kind: keyof ThreadCpu) => (after[kind] - before[kind]) * 1e6 / Math.max(1, requests);
  return { main: per("main"), workers: per("workers"), other: per("other"), requests };
}
