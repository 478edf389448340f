/** Runs wrk against a URL and reads its numbers. */

/** What one wrk run measured. */
export interface WrkResult {
  rps: number;
  /** Responses counted, whatever their status. */
  requests: number;
  /** Median latency in microseconds (from `--latency`). */
  p50us: number;
  /** 99th percentile latency in microseconds. */
  p99us: number;
  /** Non-2xx/3xx responses and socket errors. */
  errors: number;
}

function micros(value: string, unit: string): number {
  const n = Number(value);
  return unit === "us" ? n : unit === "ms" ? n * 1000 : n * 1_000_000;
}

/** Runs `wrk -t<threads> -c<connections> -d<seconds>s --latency [-H "name: value"]… url`. */
export async function wrk(
  url: string,
  options: { connections: number; seconds: number; threads?: number; headers?: Record<string, string> },
): Promise<WrkResult> {
  const threads = Math.min(options.threads ?? 1, options.connections);
  const headers = Object.entries(options.headers ?? {}).flatMap((
    [name, value],
  ) => ["-H", `${name}: ${value}`]);
  const out = await new Deno.Command("wrk", {
    args: [`-t${threads}`, `-c${options.connections}`, `-d${options.seconds}s`, "--latency", ...headers, url],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) throw new Error(`wrk failed: ${new TextDecoder().decode(out.stderr)}`);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? 0);
  const requests = Number(/(\d+) requests in/.exec(text)?.[1] ?? 0);
  const percentile = (p: number) => {
    const m = new RegExp(`${p}%\\s+([\\d.]+)(us|ms|s)`).exec(text);
    return m ? micros(m[1], m[2]) : NaN;
  };
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(text)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const socketErrors = socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  return { rps, requests, p50us: percentile(50), p99us: percentile(99), errors: non2xx + socketErrors };
}

/** The median of a list of numbers. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** `order` rotated left by `round`, so that no case always runs first or right after the same neighbour. */
export function rotated<T>(order: readonly T[], round: number): T[] {
  const at = round % order.length;
  return [...order.slice(at), ...order.slice(0, at)];
}

/** Describes this machine and commit for a results file. */
export async function machineLine(): Promise<string> {
  const git = await new Deno.Command("git", {
    args: ["rev-parse", "--short", "HEAD"],
    stdout: "piped",
    stderr: "null",
  })
    .output().then((o) => new TextDecoder().decode(o.stdout).trim(), () => "unknown");
  const cpu =
    (await Deno.readTextFile("/proc/cpuinfo").catch(() => "")).match(/model name\s*:\s*(.+)/)?.[1] ?? "?";
  return `commit ${
    git || "uncommitted"
  }, ${navigator.hardwareConcurrency} cores (${cpu}), Deno ${Deno.version.deno}, ${new Date().toISOString()}`;
}

/** The value after `--<name>` on this benchmark's command line, or `fallback`. */
export function option(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : fallback;
}
