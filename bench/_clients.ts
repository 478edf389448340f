/**
 * The upstream client candidates bench/proxy_clients.ts compares, behind one function shape: send a request,
 * get a `Response` whose body streams. `fetch` (a Deno.createHttpClient pool, explicit Accept-Encoding),
 * `node` (node:http keep-alive agent, what the gateway used before), `undici` (npm:undici Pool) and
 * `portcullis` (src/upstream/client.ts on Deno.connect).
 */
import http from "node:http";
import { Readable } from "node:stream";
import { parseOrigin, UpstreamClient } from "../src/upstream/client.ts";

/** One request as every candidate takes it. */
export interface ClientRequest {
  method: string;
  /** Path and query. */
  target: string;
  /** Header names as the caller wrote them. */
  headers: [string, string][];
  body: Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array<ArrayBuffer>> | null;
  /** A Host other than the origin's. */
  host?: string;
  signal?: AbortSignal;
}

/** Sends one request to the candidate's origin. */
export type Send = (request: ClientRequest) => Promise<Response>;

/** Builds a candidate for one upstream origin (`http://host:port`). */
export type Candidate = (origin: string) => Send | Promise<Send>;

function fetchCandidate(origin: string): Send {
  const client = Deno.createHttpClient({ poolMaxIdlePerHost: 100, http2: false, allowHost: true });
  return async (req) => {
    const headers = new Headers(req.headers);
    if (!headers.has("accept-encoding")) headers.set("accept-encoding", "identity");
    if (req.host) headers.set("host", req.host);
    const res = await fetch(origin + req.target, {
      method: req.method,
      headers,
      body: req.body,
      client,
      redirect: "manual",
      signal: req.signal,
    });
    return new Response(res.body, { status: res.status, headers: res.headers });
  };
}

function nodeCandidate(origin: string): Send {
  const target = new URL(origin);
  const agent = new http.Agent({ keepAlive: true, maxFreeSockets: 100 });
  return (req) =>
    new Promise((resolve, reject) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of req.headers) headers[k] = v;
      if (req.host) headers.Host = req.host;
      const out = http.request({
        hostname: target.hostname,
        port: target.port,
        path: req.target,
        method: req.method,
        headers,
        agent,
        signal: req.signal,
      }, (res) => {
        const raw = res.rawHeaders;
        const pairs: [string, string][] = [];
        for (let i = 0; i < raw.length; i += 2) pairs.push([raw[i], raw[i + 1]]);
        const empty = req.method === "HEAD" || res.statusCode === 204 || res.statusCode === 304;
        if (empty) res.resume();
        resolve(
          new Response(empty ? null : Readable.toWeb(res) as ReadableStream<Uint8Array>, {
            status: res.statusCode,
            headers: pairs,
          }),
        );
      });
      out.on("error", reject);
      const body = req.body;
      if (body instanceof ReadableStream) {
        Readable.fromWeb(body as import("node:stream/web").ReadableStream).pipe(out);
      } else out.end(body ?? undefined);
    });
}

async function undiciCandidate(origin: string): Promise<Send> {
  // A candidate only, so not a dependency in deno.json: the gateway must not grow one to be measured. The
  // specifier is a variable so that type-checking the benchmarks does not write undici into deno.lock (where
  // `deno task start` would then install it).
  const undici = "npm:undici@8.12.4";
  const { Pool } = await import(undici);
  const pool = new Pool(origin, { connections: 100, pipelining: 1 });
  return async (req) => {
    const headers: Record<string, string> = {};
    for (const [k, v] of req.headers) headers[k] = v;
    if (req.host) headers.host = req.host;
    const body = req.body;
    const res = await pool.request({
      path: req.target,
      method: req.method as "GET",
      headers,
      body: body instanceof ReadableStream
        ? Readable.fromWeb(body as import("node:stream/web").ReadableStream)
        : body,
      signal: req.signal,
    });
    const pairs: [string, string][] = [];
    for (const [k, v] of Object.entries(res.headers as Record<string, string | string[] | undefined>)) {
      if (Array.isArray(v)) { for (const one of v) pairs.push([k, one]); }
      else if (v !== undefined) pairs.push([k, v]);
    }
    const empty = req.method === "HEAD" || res.statusCode === 204 || res.statusCode === 304;
    if (empty) res.body.resume();
    return new Response(empty ? null : Readable.toWeb(res.body) as ReadableStream<Uint8Array>, {
      status: res.statusCode,
      headers: pairs,
    });
  };
}

function portcullisCandidate(origin: string): Send {
  const client = new UpstreamClient({ maxIdlePerHost: 100 });
  const parsed = parseOrigin(origin);
  return async (req) => {
    const headers = new Headers();
    const headerCase = new Map<string, string>();
    for (const [k, v] of req.headers) {
      headers.append(k, v);
      headerCase.set(k.toLowerCase(), k);
    }
    const signal = req.signal;
    return await client.respond(parsed, {
      method: req.method,
      target: req.target,
      headers,
      headerCase,
      body: req.body,
      host: req.host,
      signal: signal && (() => signal),
    }, (lines) => lines);
  };
}

/** Every candidate by name. */
export const CANDIDATES: Record<string, Candidate> = {
  fetch: fetchCandidate,
  node: nodeCandidate,
  undici: undiciCandidate,
  portcullis: portcullisCandidate,
};
