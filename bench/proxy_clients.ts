/**
 * Which upstream client should the proxy use? Each candidate (bench/_clients.ts) is first checked for what a
 * gateway needs, against the strict raw server (header names as written, a chosen Host, a GET body framed,
 * gzip bytes passed through undecoded, a chunked answer), then run as a minimal proxy in its own process in
 * front of nginx `return 200`, next to the bare 12-line fetch proxy, with wrk (32 connections), rounds
 * interleaved. Reports throughput as a ratio to the bare proxy and the proxy process's CPU per request.
 *
 *   deno run -A --no-lock bench/proxy_clients.ts [--seconds 5] [--rounds 5] [--only portcullis,fetch]
 *
 * (`--no-lock`: npm:undici is a candidate here, not a dependency of the gateway, so it stays out of deno.lock.)
 */
import { startRawHttpServer } from "../tests/support/raw_http_server.ts";
import { spawnServer } from "./_child.ts";
import { CANDIDATES, type Send } from "./_clients.ts";
import { cpuPerRequest } from "./_cpu.ts";
import { startNginx } from "./_nginx.ts";
import { machineLine, median, option, rotated, wrk } from "./_wrk.ts";

const SECONDS = Number(option("seconds", "5"));
const ROUNDS = Number(option("rounds", "5"));
const ONLY = option("only", Object.keys(CANDIDATES).join(",")).split(",");
const PROXY = new URL("./_client_proxy.ts", import.meta.url).pathname;

/** One property a gateway's client must have; resolves to a failure description, or null. */
type Probe = (send: Send, url: string) => Promise<string | null>;

async function gzip(text: string): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

const GZIPPED = await gzip("hello, compressed");

const PROBES: Record<string, Probe> = {
  "header case": async (send) => {
    await (await send({ method: "GET", target: "/case", headers: [["X-CertificateOuid", "7"]], body: null }))
      .arrayBuffer();
    return null;
  },
  "Host": async (send) => {
    await (await send({ method: "GET", target: "/host", headers: [], body: null, host: "example.test" }))
      .arrayBuffer();
    return null;
  },
  "GET body": async (send) => {
    const body = new TextEncoder().encode("abc");
    await (await send({ method: "GET", target: "/get-body", headers: [], body })).arrayBuffer();
    return null;
  },
  "no decompression": async (send) => {
    const res = await send({
      method: "GET",
      target: "/gzip",
      headers: [["Accept-Encoding", "gzip"]],
      body: null,
    });
    const got = new Uint8Array(await res.arrayBuffer());
    const same = got.length === GZIPPED.length && got.every((b, i) => b === GZIPPED[i]);
    return same && res.headers.get("content-encoding") === "gzip" ? null : `got ${got.length} bytes, decoded`;
  },
  "chunked answer": async (send) => {
    const text = await (await send({ method: "GET", target: "/chunked", headers: [], body: null })).text();
    return text === "abcdef" ? null : `got ${JSON.stringify(text)}`;
  },
};

/** What the raw server saw, checked after all probes of a candidate ran. */
function checkRecorded(
  server: Awaited<ReturnType<typeof startRawHttpServer>>,
): Record<string, string | null> {
  const by = (target: string) => server.requests.find((r) => r.target === target);
  const kase = by("/case");
  const host = by("/host");
  const get = by("/get-body");
  return {
    "header case": kase?.headers.some(([n]) => n === "X-CertificateOuid") ? null : "name lower-cased",
    "Host": host?.header("host") === "example.test" ? null : `Host ${host?.header("host")}`,
    "GET body": get?.text() === "abc" && get.header("content-length") === "3"
      ? null
      : get
      ? `body ${JSON.stringify(get.text())} framed ${get.framing}`
      : "refused",
  };
}

async function exactness(name: string): Promise<string[]> {
  await using server = await startRawHttpServer({
    respond(req) {
      if (req.target === "/gzip") return { headers: [["Content-Encoding", "gzip"]], body: GZIPPED };
      if (req.target === "/chunked") return { chunks: ["abc", "def"] };
      return { body: "ok" };
    },
  });
  const send = await CANDIDATES[name](server.url);
  const failures: string[] = [];
  for (const [probe, run] of Object.entries(PROBES)) {
    const failed = await run(send, server.url).catch((err) => `threw ${(err as Error).message}`);
    if (failed) failures.push(`${probe}: ${failed}`);
  }
  for (const [probe, failed] of Object.entries(checkRecorded(server))) {
    if (failed && !failures.some((f) => f.startsWith(probe))) failures.push(`${probe}: ${failed}`);
  }
  if (server.errors.length) failures.push(`strict server refused: ${server.errors[0].message}`);
  return failures;
}

const names = ONLY.filter((n) => CANDIDATES[n]);
const exact: Record<string, string[]> = {};
for (const name of names) exact[name] = await exactness(name);

const nginx = await startNginx();
const proxies = new Map<string, Awaited<ReturnType<typeof spawnServer>>>();
try {
  for (const name of ["bare", ...names]) {
    proxies.set(name, await spawnServer(["-A", "--no-lock", PROXY, name, nginx.okUrl]));
  }
  for (const [name, proxy] of proxies) {
    const res = await fetch(`${proxy.url}/x`);
    if ((await res.text()) !== "ok") throw new Error(`${name} proxy did not answer ok`);
    await wrk(`${proxy.url}/x`, { connections: 32, seconds: 2, threads: 2 });
  }
  const rps = new Map<string, number[]>();
  const cpu = new Map<string, number[]>();
  let errors = 0;
  const order = [...proxies.keys()];
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of rotated(order, round)) {
      const proxy = proxies.get(name)!;
      let rate = 0;
      const used = await cpuPerRequest(proxy.pid, async () => {
        const result = await wrk(`${proxy.url}/x`, { connections: 32, seconds: SECONDS, threads: 2 });
        rate = result.rps;
        errors += result.errors;
        return result;
      });
      (rps.get(name) ?? rps.set(name, []).get(name)!).push(rate);
      (cpu.get(name) ?? cpu.set(name, []).get(name)!).push(used.main + used.other);
    }
  }
  const bare = median(rps.get("bare")!);
  console.log(`\n## Upstream client candidates (${await machineLine()})\n`);
  console.log(`wrk -c32 -t2, ${ROUNDS} interleaved rounds of ${SECONDS} s, nginx \`return 200\` upstream\n`);
  console.log("| client | exact | throughput vs bare fetch proxy | proxy CPU per request (all threads) |");
  console.log("|---|---|---|---|");
  for (const name of order) {
    const ratio = median(rps.get(name)!) / bare;
    const failures = name === "bare" ? "(not checked)" : exact[name].length ? exact[name].join("; ") : "yes";
    console.log(`| ${name} | ${failures} | ${ratio.toFixed(2)}× | ${median(cpu.get(name)!).toFixed(0)} µs |`);
  }
  console.log(`\nerrors: ${errors}`);
} finally {
  for (const proxy of proxies.values()) await proxy.stop();
  await nginx.stop();
}
