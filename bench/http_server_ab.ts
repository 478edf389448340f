/**
 * What the gateway's own accept loop and connection guard (src/server/http_server.ts) cost per request
 * against plain Deno.serve, with a handler that does nothing, so the serving layer is all that is measured.
 * Each variant runs in its own process; wrk alternates between them and the servers' CPU per request is
 * read from /proc, which moves much less than req/s on a shared machine.
 *
 *   deno run -A bench/http_server_ab.ts [--seconds 3] [--rounds 12]
 */
import { logger } from "../src/log.ts";
import { ConnectionGuard } from "../src/server/connection_guard.ts";
import { serveHttp } from "../src/server/http_server.ts";
import { cpuPerRequest } from "./_cpu.ts";
import { machineLine, median, wrk } from "./_wrk.ts";

const VARIANTS = {
  "Deno.serve": "plain Deno.serve (what the gateway used before)",
  "serveHttp": "our accept loop, guard, timeouts on",
} as const;
type Variant = keyof typeof VARIANTS;

const handler = (_request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) =>
  new Response(`ok ${info.remoteAddr.hostname}`);

/** Server mode: `bench/http_server_ab.ts --serve <variant>` prints its port and serves until killed. */
function serve(variant: Variant): void {
  const onListen = (addr: Deno.NetAddr) => console.log(addr.port);
  if (variant === "Deno.serve") {
    Deno.serve({ hostname: "127.0.0.1", port: 0, onListen }, handler);
    return;
  }
  const log = logger("bench");
  const guard = new ConnectionGuard({
    readTimeoutMs: 120_000,
    writeTimeoutMs: 120_000,
    maxConnections: 1000,
    log,
  });
  const server = serveHttp({
    hostname: "127.0.0.1",
    port: 0,
    guard,
    handler,
    onError: () => new Response("error", { status: 500 }),
    log,
  });
  onListen(server.addr);
}

async function main(): Promise<void> {
  const option = (name: string, fallback: number) => {
    const i = Deno.args.indexOf(`--${name}`);
    return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
  };
  const seconds = option("seconds", 3);
  const rounds = option("rounds", 12);
  const names = Object.keys(VARIANTS) as Variant[];
  const servers = names.map((name) => {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-remote", "-A", new URL(import.meta.url).pathname, "--serve", name],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    return { name, child, port: readPort(child.stdout) };
  });
  try {
    const cpu = new Map<Variant, number[]>(names.map((n) => [n, []]));
    const rps = new Map<Variant, number[]>(names.map((n) => [n, []]));
    for (const s of servers) await wrk(`http://127.0.0.1:${await s.port}/`, { connections: 32, seconds: 2 });
    for (let round = 0; round < rounds; round++) {
      for (const s of round % 2 === 0 ? servers : [...servers].reverse()) {
        const url = `http://127.0.0.1:${await s.port}/`;
        let result = { rps: 0, requests: 0 };
        const used = await cpuPerRequest(s.child.pid, async () => {
          result = await wrk(url, { connections: 32, seconds });
          return result;
        });
        cpu.get(s.name)!.push(used.main + used.other);
        rps.get(s.name)!.push(result.rps);
      }
    }
    console.log(`\n## Serving layer alone (${await machineLine()})\n`);
    console.log("| server | CPU per request (median) | req/s (median) |");
    console.log("|---|---|---|");
    for (const name of names) {
      console.log(
        `| ${VARIANTS[name]} | ${median(cpu.get(name)!).toFixed(2)} µs | ${
          median(rps.get(name)!).toFixed(0)
        } |`,
      );
    }
    const [base, ours] = names.map((n) => median(cpu.get(n)!));
    console.log(
      `\nCPU per request: ${(ours / base).toFixed(3)}× Deno.serve (${(ours - base).toFixed(2)} µs)`,
    );
  } finally {
    for (const s of servers) {
      s.child.kill();
      await s.child.status;
    }
  }
}

async function readPort(stdout: ReadableStream<Uint8Array>): Promise<number> {
  const reader = stdout.pipeThrough(new TextDecoderStream()).getReader();
  const { value } = await reader.read();
  reader.releaseLock();
  return Number(value?.trim());
}

const serveIndex = Deno.args.indexOf("--serve");
if (serveIndex >= 0) serve(Deno.args[serveIndex + 1] as Variant);
else await main();
