/**
 * A minimal keyless proxy on one upstream client candidate (bench/_clients.ts), or `bare`: the 12-line
 * fetch proxy a user would write first. Every candidate does the same work: forward method, path, headers
 * (minus Host and Connection) and body, add X-Forwarded-For, stream the answer back. Prints `listening <port>`.
 *
 *   deno run -A bench/_client_proxy.ts <fetch|node|undici|portcullis|bare> <upstream origin>
 */
import { CANDIDATES } from "./_clients.ts";

const [kind, upstream] = Deno.args;

function listening(addr: Deno.NetAddr) {
  console.log(`listening ${addr.port}`);
}

if (kind === "bare") {
  Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: listening }, (req) => {
    const url = new URL(req.url);
    return fetch(upstream + url.pathname + url.search, {
      method: req.method,
      headers: req.headers,
      body: req.body,
    });
  });
} else {
  const candidate = CANDIDATES[kind];
  if (!candidate) {
    throw new Error(`Unknown client ${kind}: bare or one of ${Object.keys(CANDIDATES).join(", ")}`);
  }
  const send = await candidate(upstream);
  Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: listening }, (req, info) => {
    const url = req.url;
    const headers: [string, string][] = [];
    req.headers.forEach((value, name) => {
      if (name !== "host" && name !== "connection") headers.push([name, value]);
    });
    headers.push(["x-forwarded-for", info.remoteAddr.hostname]);
    return send({
      method: req.method,
      target: url.slice(url.indexOf("/", url.indexOf("//") + 2)),
      headers,
      body: req.body,
      signal: req.signal,
    }).catch(() => new Response(null, { status: 502 }));
  });
}
