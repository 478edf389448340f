/**
 * Serves HTTP on a listener with an accept loop of our own, so that every connection passes through the
 * {@link ConnectionGuard} (timeouts and cap) and running out of file descriptors slows accepting down instead
 * of ending the server. Deno.serve accepts inside Rust: it offers no timeouts, and an accept error such as
 * EMFILE rejects its `finished` promise and stops it for good (and the process exits if nobody catches that).
 *
 * Each accepted connection is handed to Deno's own HTTP engine (hyper, HTTP/1.1 and HTTP/2 over TLS) through
 * `serveHttpOnConnection`, the function Deno.serve itself is built on. It is internal to Deno, so start-up
 * fails with a clear message on a Deno that lacks it; the README pins the Deno version.
 */
import type { Logger } from "../log.ts";
import type { ConnectionGuard } from "./connection_guard.ts";

/** What requests are handed to, as with Deno.serve. */
export type HttpHandler = (
  request: Request,
  info: Deno.ServeHandlerInfo<Deno.NetAddr>,
) => Response | Promise<Response>;

/** A listener's options. */
export interface HttpServerOptions {
  hostname: string;
  port: number;
  /** PEM certificate and key: serve HTTPS (HTTP/2 when the client offers it). */
  tls?: { cert: string; key: string };
  guard: ConnectionGuard;
  handler: HttpHandler;
  /** Answers for a handler that threw. */
  onError: (err: unknown) => Response | Promise<Response>;
  log: Logger;
}

/** A running listener. */
export interface HttpServer {
  readonly addr: Deno.NetAddr;
  /** Resolves once the listener is closed and its last connection ended. */
  readonly finished: Promise<void>;
  /** Stops accepting; open connections stay until the guard closes them. */
  close(): void;
}

type ServeOnConnection = (
  conn: Deno.Conn,
  signal: AbortSignal,
  handler: HttpHandler,
  onError: (err: unknown) => Response | Promise<Response>,
  onListen: () => void,
) => { finished: Promise<void> };

/** Deno's per-connection server (ext/http/00_serve.ts), looked up once. */
function denoServeOnConnection(): ServeOnConnection {
  const internals = (Deno as unknown as Record<symbol, Record<string, unknown> | undefined>)[
    (Deno as unknown as { internal: symbol }).internal
  ];
  const serve = internals?.serveHttpOnConnection;
  if (typeof serve !== "function") {
    throw new Error(
      `Cannot serve HTTP on Deno ${Deno.version.deno}: it lacks serveHttpOnConnection; run Deno 2.9.6`,
    );
  }
  return serve as ServeOnConnection;
}

/** A plain-HTTP answer for a connection refused at the cap, written before it is closed. */
const REFUSAL = new TextEncoder().encode(
  "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
);
/** Backoff after a failed accept, doubled up to the maximum while failures go on. */
const ACCEPT_BACKOFF_MIN_MS = 5;
const ACCEPT_BACKOFF_MAX_MS = 1000;
const noop = () => {};

/**
 * Listens and serves until closed.
 * @throws Deno.errors.AddrInUse and the other errors of Deno.listen, when the address cannot be bound
 */
export function serveHttp(options: HttpServerOptions): HttpServer {
  const serveOnConnection = denoServeOnConnection();
  const { guard, log, handler, onError } = options;
  const listener: Deno.Listener<Deno.Conn, Deno.NetAddr> = options.tls
    ? Deno.listenTls({
      hostname: options.hostname,
      port: options.port,
      cert: options.tls.cert,
      key: options.tls.key,
      alpnProtocols: ["h2", "http/1.1"],
    })
    : Deno.listen({ hostname: options.hostname, port: options.port });
  let closed = false;
  let open = 0;
  let acceptLoopDone = false;
  const finished = Promise.withResolvers<void>();
  const maybeFinished = () => {
    if (acceptLoopDone && open === 0) finished.resolve();
  };

  const serveConnection = (conn: Deno.Conn) => {
    const abort = new AbortController();
    const guarded = guard.add(() => abort.abort());
    const onRequest: HttpHandler = (request, info) => {
      guarded.requestStarted();
      info.completed.then(guarded.requestEnded, guarded.requestEnded);
      return handler(request, info);
    };
    open++;
    const ended = () => {
      guard.delete(guarded);
      open--;
      maybeFinished();
    };
    try {
      serveOnConnection(conn, abort.signal, onRequest, onError, noop).finished.then(ended, (err) => {
        log.debug("A client connection ended with an error", { error: String(err) });
        ended();
      });
    } catch (err) {
      log.error("Cannot serve a client connection", { error: String(err) });
      ended();
      closeQuietly(conn);
    }
  };

  const refuse = (conn: Deno.Conn) => {
    guard.refused();
    // a TLS connection would need a handshake first: it is just closed
    if (options.tls) return closeQuietly(conn);
    conn.write(REFUSAL).catch(noop).finally(() => closeQuietly(conn));
  };

  const acceptLoop = async () => {
    let backoff = 0;
    while (!closed) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (closed || err instanceof Deno.errors.BadResource || err instanceof Deno.errors.Interrupted) break;
        // EMFILE and the like: the connection waits in the kernel's backlog; retrying at once would spin
        guard.acceptFailed(err);
        backoff = Math.min(ACCEPT_BACKOFF_MAX_MS, Math.max(ACCEPT_BACKOFF_MIN_MS, backoff * 2));
        await guard.waitForClose(backoff);
        continue;
      }
      backoff = 0;
      if (guard.hasRoom()) serveConnection(conn);
      else refuse(conn);
    }
    acceptLoopDone = true;
    maybeFinished();
  };
  acceptLoop().catch((err) => log.error("Stopped accepting connections", { error: String(err) }));

  return {
    addr: listener.addr,
    finished: finished.promise,
    close() {
      if (closed) return;
      closed = true;
      closeQuietly(listener);
    },
  };
}

function closeQuietly(resource: { close(): void }): void {
  try {
    resource.close();
  } catch { /* already closed */ }
}
