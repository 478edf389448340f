/**
 * The HTTP/1.1 client every request leaving the gateway goes through (the proxy, the host API's
 * TykMakeHttpRequest and TykBatchRequest). Written on `Deno.connect` rather than fetch or node:http because a
 * gateway needs what neither gives together: header names sent as written, the Host it chooses, bodies
 * passed through undecoded, framing derived from the bytes sent (a GET may carry a body), a connection never
 * reused after an exchange that did not end cleanly, and little work per request (bench/proxy_clients.ts).
 */
import type { Connection } from "./connection.ts";
import { ConnectionError } from "./connection.ts";
import { DeadlineQueue } from "./deadlines.ts";
import { Exchange } from "./_exchange.ts";
import { ConnectError, ConnectionPool, poolKey, type UpstreamOrigin } from "./pool.ts";
import { type BodyFraming, framingFor, writeRequestHead } from "./request_head.ts";
import { type ResponseHead, UNTIL_CLOSE } from "./response_head.ts";

import { UpstreamError } from "./upstream_error.ts";

export { parseOrigin, type UpstreamOrigin } from "./pool.ts";
export { UpstreamError } from "./upstream_error.ts";

/** A request body: bytes, a stream, or none. */
export type Body = ReadableStream<Uint8Array> | Uint8Array | null;

/** One request. */
export interface UpstreamRequest {
  method: string;
  /** Path and query (`/a/b?c=1`). */
  target: string;
  /** Header values to send; Host, Content-Length and Transfer-Encoding in here are ignored. */
  headers: Headers;
  /** Lower-case name → name as written; other names go out in Go's canonical form. */
  headerCase?: ReadonlyMap<string, string>;
  /** Lower-case names in `headers` not to send (a proxy's hop-by-hop headers). */
  skipHeaders?: ReadonlySet<string>;
  body: Body;
  /** The Host header. @default the origin's authority */
  host?: string;
  /** Fails the request with a `timeout` UpstreamError if the response head has not arrived by then. */
  deadline?: DeadlineQueue;
  /**
   * Fails the request with an `aborted` UpstreamError (the client went away). A function is called only
   * if the head takes longer than {@link WATCH_CLIENT_AFTER_MS}: reading a Deno.serve request's `signal`
   * costs about 10 µs, a seventh of a proxied request, and most answers come sooner (a difference from
   * Tyk, listed in docs/differences.md).
   */
  signal?: AbortSignal | (() => AbortSignal);
  /** Accept any TLS certificate (`proxy_ssl_insecure_skip_verify`). @default false */
  insecure?: boolean;
  /** Close the connection after this exchange. @default false */
  close?: boolean;
}

/** A response whose head arrived; the body streams unless it was small enough to be read with the head. */
export interface UpstreamResponse {
  status: number;
  statusText: string;
  /** Header lines in order, names as received; no Transfer-Encoding (the body is de-chunked). */
  headers: [string, string][];
  body: Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array<ArrayBuffer>> | null;
}

/**
 * Turns a response head and body into what a send method resolves with. Runs synchronously while a
 * buffered body is a view into the connection's buffer: it must copy what it keeps.
 */
type Build<T> = (
  head: ResponseHead,
  body: Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array<ArrayBuffer>> | null,
) => T;

function toUpstreamResponse(
  head: ResponseHead,
  body: Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array<ArrayBuffer>> | null,
): UpstreamResponse {
  return {
    status: head.status,
    statusText: head.statusText,
    headers: head.headers,
    body: body instanceof Uint8Array ? body.slice() : body,
  };
}

/** Options of {@link UpstreamClient}. */
export interface UpstreamClientOptions {
  /** Keep connections open between requests; false is `proxy_close_connections`. @default true */
  keepAlive?: boolean;
  /** Idle connections kept per origin (`max_idle_connections_per_host`). @default 100 */
  maxIdlePerHost?: number;
}

const DIGITS = /^\d{1,15}$/;
/** How long a request may wait for its answer before the client's going away is watched. */
export const WATCH_CLIENT_AFTER_MS = 50;
const LAST_CHUNK = new TextEncoder().encode("0\r\n\r\n");
/** Bodies up to this size go out in the same write as the head. */
const COALESCE = 16 * 1024;
const REPLAYABLE_METHODS = new Set(["GET", "HEAD", "OPTIONS", "TRACE"]);

function join(head: Uint8Array, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}

function chunkFrame(data: Uint8Array): Uint8Array {
  const size = new TextEncoder().encode(`${data.length.toString(16)}\r\n`);
  const out = new Uint8Array(size.length + data.length + 2);
  out.set(size);
  out.set(data, size.length);
  out[out.length - 2] = 0x0d;
  out[out.length - 1] = 0x0a;
  return out;
}

/**
 * Go's transport resends a request once when a reused connection turned out closed before answering, if
 * the request can be sent again unchanged and is idempotent (or says it may be repeated).
 */
function replayable(request: UpstreamRequest): boolean {
  if (request.body instanceof ReadableStream) return false;
  return REPLAYABLE_METHODS.has(request.method) || request.headers.has("idempotency-key") ||
    request.headers.has("x-idempotency-key");
}

/**
 * Sends requests over pooled HTTP/1.1 connections.
 * @example
 * const client = new UpstreamClient({ maxIdlePerHost: 100 });
 * const res = await client.send(parseOrigin("http://127.0.0.1:9000"), {
 *   method: "GET", target: "/x", headers: new Headers(), body: null,
 * });
 */
export class UpstreamClient {
  #pool: ConnectionPool;
  #keepAlive: boolean;
  // Date.now, not performance.now (an op call): a clock step only moves when a client starts being watched
  #watch = new DeadlineQueue(WATCH_CLIENT_AFTER_MS, Date.now);

  constructor(options: UpstreamClientOptions = {}) {
    this.#keepAlive = options.keepAlive ?? true;
    this.#pool = new ConnectionPool({ maxIdlePerHost: options.maxIdlePerHost });
  }

  /**
   * Sends a request and resolves once the response head arrived.
   * @throws UpstreamError
   * @throws TypeError when the method is not an HTTP token
   */
  send(origin: UpstreamOrigin, request: UpstreamRequest): Promise<UpstreamResponse> {
    return this.#send(origin, request, toUpstreamResponse);
  }

  /**
   * Sends a request for a proxy and resolves with the `Response` to hand to Deno.serve: the upstream's
   * status, its header lines that `keep` leaves (names as received), and its body, streamed unless it came
   * with the head. Built while the body still sits in the connection's buffer: one copy fewer, and header
   * lines appended one by one, which costs a third of passing them to the constructor.
   * @throws UpstreamError
   * @throws TypeError when the method is not an HTTP token
   */
  respond(
    origin: UpstreamOrigin,
    request: UpstreamRequest,
    keep: (lines: [string, string][]) => [string, string][],
  ): Promise<Response> {
    return this.#send(origin, request, (head, body) => {
      const response = new Response(body, { status: head.status });
      const headers = response.headers;
      const lines = keep(head.headers);
      for (let i = 0; i < lines.length; i++) headers.append(lines[i][0], lines[i][1]);
      return response;
    });
  }

  async #send<T>(origin: UpstreamOrigin, request: UpstreamRequest, build: Build<T>): Promise<T> {
    const { method, body } = request;
    let streamLength: number | null = null;
    if (body instanceof ReadableStream) {
      const given = request.headers.get("content-length");
      if (given !== null && DIGITS.test(given)) streamLength = Number(given);
    }
    const framing = framingFor(method, body, streamLength);
    const close = request.close === true || !this.#keepAlive;
    const head = writeRequestHead({
      method,
      target: request.target,
      host: request.host ?? origin.host,
      headers: request.headers,
      headerCase: request.headerCase,
      skip: request.skipHeaders,
      framing,
      close,
    });
    const exchange = new Exchange(request, this.#watch);
    if (exchange.failure !== null) {
      exchange.end();
      throw exchange.failure;
    }
    const key = poolKey(origin, request.insecure === true);
    try {
      for (let attempt = 0;; attempt++) {
        let conn = this.#pool.take(key);
        if (conn === null) {
          const connecting = exchange.connecting = Promise.withResolvers<never>();
          const opening = this.#pool.open(origin, request.insecure === true);
          try {
            conn = await Promise.race([opening, connecting.promise]);
          } catch (err) {
            opening.then((late) => this.#pool.release(late, false), () => {});
            if (err instanceof ConnectError) {
              throw new UpstreamError(err.dns ? "dns" : "connect", err.message, { cause: err });
            }
            throw err;
          } finally {
            exchange.connecting = null;
          }
        }
        exchange.conn = conn;
        try {
          return await this.#exchange(conn, head, body, framing, method, close, build);
        } catch (err) {
          this.#pool.release(conn, false);
          if (exchange.failure !== null) throw exchange.failure;
          if (
            err instanceof ConnectionError && err.beforeResponse && conn.uses > 1 && attempt === 0 &&
            replayable(request)
          ) continue;
          if (err instanceof UpstreamError || err instanceof TypeError) throw err;
          throw new UpstreamError("connect", (err as Error).message, { cause: err });
        }
      }
    } finally {
      exchange.end();
    }
  }

  async #exchange<T>(
    conn: Connection,
    head: Uint8Array,
    body: Body,
    framing: BodyFraming,
    method: string,
    close: boolean,
    build: Build<T>,
  ): Promise<T> {
    conn.uses++;
    let bodySent = true;
    if (body instanceof ReadableStream) {
      await conn.write(head);
      bodySent = false;
      this.#writeStream(conn, body, framing).then(() => bodySent = true, () => conn.close());
    } else if (body === null || body.length === 0) {
      await conn.write(head);
    } else if (body.length <= COALESCE) {
      await conn.write(join(head, body));
    } else {
      await conn.write(head);
      await conn.write(body);
    }
    const res = await conn.readHead(method);
    const keep = !close && res.keepAlive && res.status !== 101 && res.bodyLength !== UNTIL_CLOSE;
    if (res.bodyLength === 0) {
      this.#pool.release(conn, keep && bodySent);
      return build(res, null);
    }
    const buffered = res.bodyLength > 0 ? conn.viewBuffered(res.bodyLength) : null;
    if (buffered === null) {
      const stream = conn.streamBody(
        res.bodyLength,
        (reusable) => this.#pool.release(conn, reusable && keep && bodySent),
      );
      return build(res, stream);
    }
    // built before the connection goes back: the view is into its buffer, which the next exchange reuses
    const result = build(res, buffered);
    this.#pool.release(conn, keep && bodySent);
    return result;
  }

  /** Sends a streamed body with its framing; rejects (and the caller closes) if the stream breaks. */
  async #writeStream(
    conn: Connection,
    body: ReadableStream<Uint8Array>,
    framing: BodyFraming,
  ): Promise<void> {
    const reader = body.getReader();
    let sent = 0;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        if (value.length === 0) continue;
        sent += value.length;
        if (framing === "chunked") await conn.write(chunkFrame(value));
        else if (typeof framing === "number" && sent > framing) {
          throw new RangeError(`Cannot send request body: longer than its Content-Length ${framing}`);
        } else await conn.write(value);
      }
      if (framing === "chunked") await conn.write(LAST_CHUNK);
      else if (sent !== framing) {
        throw new RangeError(`Cannot send request body: ${sent} bytes, Content-Length ${framing}`);
      }
    } catch (err) {
      reader.cancel(err).catch(() => {});
      throw err;
    } finally {
      reader.releaseLock();
    }
  }

  /** Closes every connection. */
  close(): void {
    this.#pool.close();
    this.#watch.clear();
  }
}

/** Reads a whole response body (the host API returns bodies as strings). */
export async function readAll(body: UpstreamResponse["body"]): Promise<Uint8Array<ArrayBuffer>> {
  if (body === null) return new Uint8Array(0);
  if (body instanceof Uint8Array) return body;
  return new Uint8Array(await new Response(body).arrayBuffer());
}
