/** Starts a throw-away `redis-server` on a free loopback port for tests. */

/** A running test Redis. */
export interface TestRedis {
  /** The TCP port on 127.0.0.1. */
  readonly port: number;
  /** Kills the server and waits until it has exited; safe to call twice. */
  stop(): Promise<void>;
  /** Stops the server (if running) and starts a fresh, empty one on the same port. */
  restart(): Promise<void>;
}

const READY = "Ready to accept connections";

/** True when a `redis-server` binary is on PATH (tests that need one are ignored otherwise). */
export function hasRedisServer(): boolean {
  return (Deno.env.get("PATH") ?? "").split(":").some((dir) => {
    try {
      return Deno.statSync(`${dir}/redis-server`).isFile;
    } catch {
      return false;
    }
  });
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

interface Running {
  child: Deno.ChildProcess;
  /** Drains stdout after readiness so the server never blocks on a full pipe. */
  drained: Promise<void>;
}

async function spawn(port: number): Promise<Running> {
  const child = new Deno.Command("redis-server", {
    args: ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes(READY)) {
    const { value, done } = await reader.read();
    if (done) {
      await child.status;
      throw new Error(`Cannot start redis-server on port ${port}: it exited before "${READY}"\n${seen}`);
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
    running.child.kill("SIGKILL");
  } catch {
    // already exited
  }
  await running.child.status;
  await running.drained;
}

/** Spawns `redis-server` on a free port and resolves once it accepts connections. */
export async function startRedis(): Promise<TestRedis> {
  const port = freePort();
  let running: Running | null = await spawn(port);
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
      running = await spawn(port);
    },
  };
}
