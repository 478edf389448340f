/**
 * CPU time a process spent per request, split by thread kind (see tests/support/thread_cpu.ts). On a shared
 * machine the CPU a request costs moves far less between runs than how many requests per second fit.
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
