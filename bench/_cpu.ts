/**
 * CPU time a process spent per request, split by thread kind (see tests/support/thread_cpu.ts), and its memory.
 * On a shared machine the CPU a request costs moves far less between runs than how many requests per second fit.
 */

import { type ThreadCpu, threadCpu } from "../tests/support/thread_cpu.ts";

export type { ThreadCpu };

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

/** A memory figure of `pid` from /proc/<pid>/status in KiB: `VmHWM` is its peak resident set, `VmRSS` now. */
export function memoryKiB(pid: number, field: "VmHWM" | "VmRSS"): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
}
