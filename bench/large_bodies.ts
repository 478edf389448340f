/**
 * Memory of large request bodies: concurrent uploads through a keyless API (streamed to the upstream) and
 * through an API with a JS `pre` hook (buffered, bounded), with the gateway's peak RSS (VmHWM) after each.
 *
 *   deno run -A bench/large_bodies.ts [--uploads 8] [--mb 60]
 */
import { keylessApi, startGateway } from "../tests/support/gateway.ts";
import { startUpstream } from "../tests/support/upstream.ts";
import { memoryKiB } from "./_cpu.ts";
import { machineLine } from "./_wrk.ts";

const option = (name: string, fallback: number) => {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
};
const UPLOADS = option("uploads", 8);
const MB = option("mb", 60);
const CHUNK = new Uint8Array(256 * 1024).fill(120);

/** A body of `bytes` made on the fly, so the client holds one chunk at a time. */
function generated(bytes: number): ReadableStream<Uint8Array> {
  let left = bytes;
  return new ReadableStream({
    pull(controller) {
      if (left <= 0) return controller.close();
      const n = Math.min(left, CHUNK.length);
      controller.enqueue(CHUNK.subarray(0, n));
      left -= n;
    },
  });
}

/** The gateway's peak and current resident memory, in MB. */
function memory(pid: number): { peak: number; now: number } {
  return { peak: memoryKiB(pid, "VmHWM") / 1024, now: memoryKiB(pid, "VmRSS") / 1024 };
}

const PASS = `var pass = new TykJS.TykMiddleware.NewMiddleware({});
pass.NewProcessRequest(function (request, session, spec) { return pass.ReturnData(request, {}); });
`;

const upstream = await startUpstream();
const SIZE = MB * 1024 * 1024;
// one buffer for every sized upload: fetch sends a Uint8Array with its Content-Length (a stream goes chunked)
const SIZED = new Uint8Array(SIZE).fill(120);
const hooked = {
  ...keylessApi("hooked", "/hooked/", upstream.url),
  custom_middleware: { driver: "javascript", pre: [{ name: "pass", path: "plugins/pass.js" }] },
};
const plain = keylessApi("plain", "/plain/", upstream.url);
const results: string[] = [];
for (
  const [label, api, sized] of [
    ["keyless, no hooks (streamed), Content-Length", plain, true],
    ["keyless, no hooks (streamed), chunked", plain, false],
    ["JS pre hook (buffered), Content-Length", hooked, true],
    ["JS pre hook (buffered), chunked", hooked, false],
  ] as const
) {
  // one gateway per case, so each peak is that case's own
  const gw = await startGateway({
    conf: { enable_jsvm: true, log_level: "warn" },
    files: { "plugins/pass.js": PASS },
    apps: { "api.json": api },
  });
  try {
    const path = api.proxy.listen_path;
    const before = memory(gw.pid);
    const started = performance.now();
    const statuses = await Promise.all(Array.from({ length: UPLOADS }, async () => {
      const res = await fetch(`${gw.url}${path}count-body`, {
        method: "POST",
        body: sized ? SIZED : generated(SIZE),
      });
      const text = await res.text();
      return res.status === 200
        ? `200 ${JSON.parse(text).bodyLength === SIZE ? "exact" : "SHORT"}`
        : `${res.status} ${JSON.parse(text).error}`;
    }));
    const seconds = (performance.now() - started) / 1000;
    const after = memory(gw.pid);
    const counts = new Map<string, number>();
    for (const s of statuses) counts.set(s, (counts.get(s) ?? 0) + 1);
    results.push(
      `| ${label} | ${[...counts].map(([s, n]) => `${n}× ${s}`).join(", ")} | ${before.now.toFixed(0)} MB | ${
        after.peak.toFixed(0)
      } MB | ${seconds.toFixed(1)} s |`,
    );
  } finally {
    await gw.stop();
  }
}
await upstream.stop();
console.log(`\n## ${UPLOADS} concurrent ${MB} MB uploads (${await machineLine()})\n`);
console.log("| API | answers | RSS before | peak RSS | time |");
console.log("|---|---|---|---|---|");
for (const line of results) console.log(line);
