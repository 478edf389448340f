/**
 * A real upstream for end-to-end tests: echoes what it received as JSON, with a few special paths
 * (`/slow/<ms>`, `/status/<code>`, `/bytes/<n>`, `/count-body` with a SHA-256 of what arrived) to exercise
 * the proxy.
 */
import { createHash } from "node:crypto";

/** What the echo upstream saw. */
export interface Echo {
  method: string;
  path: string;
  query: string;
  headers: Record<string, string>;
  /** The body, base64, so binary bodies can be compared byte for byte. */
  body: string;
  bodyLength: number;
}

/** A running upstream. */
export interface Upstream {
  url: string;
  port: number;
  /** Requests received so far. */
  count: () => number;
  stop(): Promise<void>;
}

/** Starts the echo upstream on a free loopback port. */
export async function startUpstream(): Promise<Upstream> {
  const abort = new AbortController();
  let count = 0;
  const ready = Promise.withResolvers<number>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    signal: abort.signal,
    onListen: (a) => ready.resolve(a.port),
  }, async (req) => {
    count++;
    const url = new URL(req.url);
    const slow = /^\/slow\/(\d+)/.exec(url.pathname);
    if (slow) await new Promise((r) => setTimeout(r, Number(slow[1])));
    const status = /^\/status\/(\d+)/.exec(url.pathname);
    if (status) return new Response(`status ${status[1]}`, { status: Number(status[1]) });
    const size = /^\/bytes\/(\d+)/.exec(url.pathname);
    if (size) {
      let left = Number(size[1]);
      const chunk = new Uint8Array(64 * 1024).fill(97);
      return new Response(
        new ReadableStream({
          pull(c) {
            if (left <= 0) return c.close();
            const n = Math.min(left, chunk.length);
            c.enqueue(chunk.slice(0, n));
            left -= n;
          },
        }),
      );
    }
    if (url.pathname.startsWith("/count-body")) {
      let n = 0;
      const hash = createHash("sha256");
      for await (const chunk of req.body ?? []) {
        n += chunk.byteLength;
        hash.update(chunk);
      }
      return Response.json({ bodyLength: n, sha256: hash.digest("hex") });
    }
    const body = new Uint8Array(await req.arrayBuffer());
    const echo: Echo = {
      method: req.method,
      path: url.pathname,
      query: url.search.slice(1),
      headers: Object.fromEntries(req.headers),
      body: body.toBase64(),
      bodyLength: body.length,
    };
    return Response.json(echo, { headers: { "x-upstream": "echo", "set-cookie": "a=1" } });
  });
  const port = await ready.promise;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    count: () => count,
    async stop() {
      abort.abort();
      await server.finished;
    },
  };
}
