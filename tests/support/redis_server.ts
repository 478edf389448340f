/** Starts throw-away `redis-server` processes on free loopback ports for tests. */
import { freePort } from "./free_port.ts";

/** A running test Redis. */
export interface TestRedis {
  /** The TCP port on 127.0.0.1 (the TLS port when the server speaks only TLS). */
  readonly port: number;
  /** Kills the server and waits until it has exited; safe to call twice. */
  stop(): Promise<void>;
  /** Stops the server (if running) and starts it again on the same port with the same arguments. */
  restart(): Promise<void>;
  /** Freezes the process (SIGSTOP): connections stay open, nothing answers. */
  pause(): void;
  /** Lets a paused process run again (SIGCONT). */
  resume(): void;
}

/** How to start a test Redis. */
export interface StartRedisOptions {
  /** Extra `redis-server` arguments (`--cluster-enabled yes`, `--tls-port …`). @default [] */
  args?: string[];
  /** Use this port instead of a free one (it must be free). */
  port?: number;
  /** Omit `--port` (a TLS-only server sets `--port 0` and `--tls-port` itself). @default false */
  noPortArg?: boolean;
  /** The log line that means the server is ready. @default "Ready to accept connections" */
  ready?: string;
  /** Start `redis-server` in sentinel mode with this config file. */
  sentinelConf?: string;
}

const READY = "Ready to accept connections";

interface Running {
  child: Deno.ChildProcess;
  /** Drains stdout after readiness so the server never blocks on a full pipe. */
  drained: Promise<void>;
}

async function spawn(args: string[], ready: string): Promise<Running> {
  const child = new Deno.Command("redis-server", {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes(ready)) {
    const { value, done } = await reader.read();
    if (done) {
      await child.status;
      throw new Error(`Cannot start redis-server ${args.join(" ")}: it exited before "${ready}"\n${seen}`);
    }
    seen = (seen + value).slice(-4096);
  }
  const drained = (async () => {
    while (!(await reader.read()).done) { /* discard */ }
  })();
  return { child, drained };
}

async function kill(running: Running): Promise<void> {
  try {
    running.child.kill("SIGKILL"); // works on a paused process too
  } catch {
    // already exited
  }
  await running.child.status;
  await running.drained;
}

/** Spawns `redis-server` (by default on a free port, no persistence) and resolves once it is ready. */
export async function startRedis(options: StartRedisOptions = {}): Promise<TestRedis> {
  const port = options.port ?? freePort();
  const args = [
    ...(options.sentinelConf === undefined ? [] : [options.sentinelConf, "--sentinel"]),
    ...(options.noPortArg ? [] : ["--port", String(port)]),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
    ...(options.args ?? []),
  ];
  const ready = options.ready ?? READY;
  let running: Running | null = await spawn(args, ready);
  return {
    port,
    async stop() {
      const current = running;
      running = null;
      if (current) await kill(current);
    },
    async restart() {
      const current = running;
      running = null;
      if (current) await kill(current);
      running = await spawn(args, ready);
    },
    pause: () => running?.child.kill("SIGSTOP"),
    resume: () => running?.child.kill("SIGCONT"),
  };
}

/** Runs `redis-cli` against 127.0.0.1:`port` and returns its output; throws when it exits non-zero. */
export async function redisCli(port: number, args: string[], extra: string[] = []): Promise<string> {
  const out = await new Deno.Command("redis-cli", {
    args: ["-h", "127.0.0.1", "-p", String(port), ...extra, ...args],
    stdin: "null",
    signal: AbortSignal.timeout(30_000),
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`redis-cli -p ${port} ${args.join(" ")} failed:\n${text}`);
  return text;
}
