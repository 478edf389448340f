/**
 * What rate limits and quotas cost on the request path, end to end with wrk: an auth-token API whose key has a
 * rate limit (a billion a second) and a quota (a billion an hour), never reached,, against the same upstream behind a keyless API, in the same
 * gateway and run, rounds interleaved. Once on the embedded store and once on a real redis-server (when one is
 * installed), each with Tyk's default limiter and with the Redis rolling limiter.
 *
 *   deno run -A bench/limits.ts [--seconds 3] [--rounds 7]
 *
 * Reports requests per second of each and the ratio keyed / keyless: the median over rounds of each round's
 * ratio (targets: ≥ 0.9 embedded, ≥ 0.8 Redis), and the gateway's CPU time per request in both, which moves
 * much less than throughput when other work shares the machine (redis-server's own CPU is not in it).
 */
import { keylessApi, startGateway, tokenApi } from "../tests/support/gateway.ts";
import { hasRedisServer } from "../tests/support/tools.ts";
import { startRedis } from "../tests/support/redis_server.ts";
import { startOkUpstream } from "./_upstream.ts";
import { machineLine, median, wrk } from "./_wrk.ts";
import { cpuPerRequest } from "./_cpu.ts";
import { limitedKey } from "./_apis.ts";

const args = Deno.args;
const option = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const SECONDS = option("seconds", 3);
const ROUNDS = option("rounds", 7);
const CONNECTIONS = 32;

const upstream = await startOkUpstream();

/** Measures one gateway set-up; returns median rps of both APIs and their ratio. */
async function measure(name: string, conf: Record<string, unknown>) {
  const gw = await startGateway({
    conf: { log_level: "warn", ...conf },
    apps: {
      "open.json": keylessApi("open", "/open/", upstream.url),
      "keyed.json": tokenApi("keyed", "/keyed/", upstream.url),
    },
  });
  try {
    const key = await limitedKey(gw, "keyed", "/keyed/");
    // warm both paths up
    await wrk(`${gw.url}/open/`, { connections: CONNECTIONS, seconds: 1 });
    await wrk(`${gw.url}/keyed/`, { connections: CONNECTIONS, seconds: 1, headers: { Authorization: key } });
    const open: number[] = [];
    const keyed: number[] = [];
    const openCpu: number[] = [];
    const keyedCpu: number[] = [];
    /** One wrk run, with the gateway's CPU (all threads) per request. */
    const run = async (url: string, headers?: Record<string, string>) => {
      let result = { rps: 0, errors: 0, requests: 0 };
      const cpu = await cpuPerRequest(gw.pid, async () => {
        result = await wrk(url, { connections: CONNECTIONS, seconds: SECONDS, headers });
        return result;
      });
      if (result.errors) throw new Error(`${result.errors} errors during the run of ${url}`);
      return { rps: result.rps, cpu: cpu.main + cpu.workers + cpu.other };
    };
    for (let round = 0; round < ROUNDS; round++) {
      const a = await run(`${gw.url}/open/`);
      const b = await run(`${gw.url}/keyed/`, { Authorization: key });
      open.push(a.rps);
      keyed.push(b.rps);
      openCpu.push(a.cpu);
      keyedCpu.push(b.cpu);
    }
    // Each round pairs two back-to-back runs; the median of the pairs' ratios resists the load that other
    // processes put on a shared machine better than a ratio of medians.
    const ratio = median(keyed.map((rps, i) => rps / open[i]));
    console.log(
      `${name.padEnd(34)} keyless ${median(open).toFixed(0).padStart(6)} rps  keyed ${
        median(keyed).toFixed(0).padStart(6)
      } rps  ratio ${ratio.toFixed(2)}  (rounds: ${
        open.map((v, i) => (keyed[i] / v).toFixed(2)).join(" ")
      })` +
        `  gateway CPU/request ${median(openCpu).toFixed(0)} → ${median(keyedCpu).toFixed(0)} µs`,
    );
  } finally {
    await gw.stop();
  }
}

console.log(`# bench/limits.ts — ${await machineLine()}`);
console.log(`# wrk ${CONNECTIONS} connections, ${SECONDS} s per run, ${ROUNDS} rounds interleaved`);
try {
  await measure("embedded, default limiter", {});
  await measure("embedded, rolling limiter", { enable_redis_rolling_limiter: true });
  if (hasRedisServer()) {
    const redis = await startRedis();
    try {
      const storage = { type: "redis", host: "127.0.0.1", port: redis.port };
      await measure("redis, default limiter", { storage });
      await measure("redis, rolling limiter", { storage, enable_redis_rolling_limiter: true });
    } finally {
      await redis.stop();
    }
  } else {
    console.log("redis-server not installed: Redis runs skipped");
  }
} finally {
  await upstream.stop();
}
