/**
 * Client connections as an attacker holds them (issue: idle sockets, slowloris, descriptor exhaustion):
 * read_timeout and write_timeout close what Tyk's Go server would close, max_connections refuses the
 * excess, and running out of file descriptors slows accepting down instead of ending the process.
 */
import assert from "node:assert/strict";
import { keylessApi, startGateway, type TestGateway } from "./support/gateway.ts";
import { hasPrlimit } from "./support/tools.ts";
import { startUpstream, type Upstream } from "./support/upstream.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function connect(gw: TestGateway): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port: gw.port });
}

/**
 * Reads until the gateway closes the connection; resolves with what was read and how long after `since`
 * the close came. Rejects after `withinMs` (the connection is then closed here).
 */
function closedByPeer(
  conn: Deno.Conn,
  since: number,
  withinMs: number,
): Promise<{ afterMs: number; text: string }> {
  let text = "";
  const reading = (async () => {
    const buf = new Uint8Array(4096);
    while (true) {
      let n: number | null;
      try {
        n = await conn.read(buf);
      } catch (err) {
        if (err instanceof Deno.errors.ConnectionReset) break;
        throw err;
      }
      if (n === null) break;
      text += decoder.decode(buf.subarray(0, n));
    }
    return { afterMs: performance.now() - since, text };
  })();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      conn.close();
      reject(new Error(`The gateway kept the connection open for ${withinMs} ms; read so far: ${text}`));
    }, withinMs);
  });
  return Promise.race([reading, timeout]).finally(() => clearTimeout(timer));
}

/** Sends one request on a raw connection and reads its response (Content-Length framed). */
async function roundTrip(conn: Deno.Conn, path: string): Promise<string> {
  await conn.write(encoder.encode(`GET ${path} HTTP/1.1\r\nHost: gw\r\n\r\n`));
  let text = "";
  const buf = new Uint8Array(4096);
  while (true) {
    const end = text.indexOf("\r\n\r\n");
    const length = /content-length: (\d+)/i.exec(text);
    if (end >= 0 && length && text.length >= end + 4 + Number(length[1])) return text;
    const n = await conn.read(buf);
    if (n === null) throw new Error(`Connection closed mid-response: ${text}`);
    text += decoder.decode(buf.subarray(0, n));
  }
}

/** Retries a request until it answers 200 (connections the gateway closes are released asynchronously). */
async function servesAgain(url: string, withinMs = 15_000): Promise<void> {
  const deadline = performance.now() + withinMs;
  let last = "";
  while (performance.now() < deadline) {
    try {
      // a connection left in the kernel's backlog is never answered: each attempt has its own bound
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.body?.cancel();
      if (res.status === 200) return;
      last = `status ${res.status}`;
    } catch (err) {
      last = String(err);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer 200 within ${withinMs} ms (last: ${last})`);
}

async function withGateway(
  conf: Record<string, unknown>,
  run: (gw: TestGateway, upstream: Upstream) => Promise<void>,
  nofile?: { soft: number; hard: number },
): Promise<void> {
  const upstream = await startUpstream();
  const gw = await startGateway({
    conf,
    apps: { "api.json": keylessApi("api", "/api/", upstream.url) },
    nofile,
  });
  try {
    await run(gw, upstream);
  } finally {
    await gw.stop();
    await upstream.stop();
  }
}

Deno.test("read_timeout closes silent and idle keep-alive connections, not before it, and the gateway serves on", async () => {
  // write_timeout far above the bounds below: only read_timeout can close these in time
  await withGateway({ http_server_options: { read_timeout: 1, write_timeout: 60 } }, async (gw) => {
    const since = performance.now();
    const silent = await Promise.all(Array.from({ length: 20 }, () => connect(gw)));
    const keptAlive = await connect(gw);
    assert.match(await roundTrip(keptAlive, "/api/first"), /^HTTP\/1\.1 200/);
    const idleSince = performance.now();

    const closes = await Promise.all(silent.map((conn) => closedByPeer(conn, since, 10_000)));
    for (const { afterMs, text } of closes) {
      assert.equal(text, "", "a connection that sent nothing gets nothing");
      assert.ok(afterMs >= 1000, `closed after ${afterMs} ms, before read_timeout`);
    }
    const idle = await closedByPeer(keptAlive, idleSince, 10_000);
    assert.ok(idle.afterMs >= 900, `idle connection closed after ${idle.afterMs} ms`);
    await servesAgain(`${gw.url}/api/after`);
  });
});

Deno.test("a slowloris request head, trickled a header at a time, is cut off at read_timeout", async () => {
  await withGateway({ http_server_options: { read_timeout: 1, write_timeout: 60 } }, async (gw) => {
    const since = performance.now();
    const conns = await Promise.all(Array.from({ length: 50 }, () => connect(gw)));
    let trickling = true;
    const trickle = conns.map(async (conn, i) => {
      try {
        await conn.write(encoder.encode(`GET /api/${i} HTTP/1.1\r\nHost: gw\r\n`));
        while (trickling) {
          await new Promise((r) => setTimeout(r, 200));
          await conn.write(encoder.encode(`X-Slow-${i}: still coming\r\n`));
        }
      } catch { /* the gateway closed the connection */ }
    });
    try {
      // the gateway answers others while the slow heads are still arriving
      assert.equal(
        (await fetch(`${gw.url}/api/meanwhile`).then(async (r) => (await r.body?.cancel(), r))).status,
        200,
      );
      const closes = await Promise.all(conns.map((conn) => closedByPeer(conn, since, 10_000)));
      for (const { afterMs } of closes) assert.ok(afterMs >= 1000, `closed after ${afterMs} ms`);
    } finally {
      trickling = false;
      await Promise.all(trickle);
    }
    await servesAgain(`${gw.url}/api/after`);
  });
});

Deno.test("write_timeout closes a connection whose response is not sent in time", async () => {
  await withGateway({ http_server_options: { read_timeout: 10, write_timeout: 1 } }, async (gw) => {
    const conn = await connect(gw);
    const since = performance.now();
    await conn.write(encoder.encode("GET /api/slow/8000 HTTP/1.1\r\nHost: gw\r\n\r\n"));
    const { afterMs, text } = await closedByPeer(conn, since, 7000);
    assert.equal(text, "", "no response was started");
    assert.ok(afterMs >= 1000, `closed after ${afterMs} ms`);
    await servesAgain(`${gw.url}/api/after`);
  });
});

Deno.test("connections past http_server_options.max_connections get a 503 and a log line", async () => {
  await withGateway({ http_server_options: { max_connections: 5 } }, async (gw) => {
    const held = await Promise.all(Array.from({ length: 5 }, () => connect(gw)));
    // a round trip on each proves the gateway accepted and counts it
    for (const conn of held) assert.match(await roundTrip(conn, "/api/held"), /^HTTP\/1\.1 200/);
    const extra = await connect(gw);
    const refused = await closedByPeer(extra, performance.now(), 10_000);
    assert.match(refused.text, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
    await gw.waitForLog(/Refusing new connections: max_connections are open.*max_connections=5/);
    for (const conn of held) conn.close();
    await servesAgain(`${gw.url}/api/after`);
  });
});

Deno.test({
  name: "running out of file descriptors sheds connections with a log line; the gateway lives and serves on",
  ignore: !hasPrlimit(),
  fn: async () => {
    // the default max_connections (10,000) is far above what 256 descriptors allow
    await withGateway({}, async (gw) => {
      const conns: Deno.TcpConn[] = [];
      try {
        for (let i = 0; i < 300; i++) conns.push(await connect(gw));
        await gw.waitForLog(
          /Cannot accept connections; new ones wait until open ones close.*Too many open files/,
        );
      } finally {
        for (const conn of conns) conn.close();
      }
      await servesAgain(`${gw.url}/api/after`);
      const status = await new Deno.Command("kill", { args: ["-0", String(gw.pid)] }).output();
      assert.ok(status.success, "the gateway process is still running");
    }, { soft: 256, hard: 256 });
  },
});

Deno.test({
  name: "the soft open-file limit is raised to the hard limit at start",
  ignore: !hasPrlimit(),
  fn: async () => {
    await withGateway({}, async (gw) => {
      const out = await new Deno.Command("prlimit", {
        args: ["--pid", String(gw.pid), "--nofile", "--output=SOFT,HARD", "--noheadings"],
      }).output();
      assert.deepEqual(new TextDecoder().decode(out.stdout).trim().split(/\s+/), ["2048", "2048"]);
    }, { soft: 512, hard: 2048 });
  },
});
