/**
 * Idle keep-alive connections per upstream origin, and opening new ones (TCP, TLS, TLS without verification).
 * The most recently used connection is taken first, so under light load the others close on the upstream's
 * idle timeout instead of all staying half-warm.
 */
import { connectInsecureTls } from "./_insecure_tls.ts";
import { Connection, type Socket } from "./connection.ts";

/** Where requests go: scheme, host and port, resolved once per API load. */
export interface UpstreamOrigin {
  /** `http://host:port` or `https://host:port`, the pool's key. */
  readonly key: string;
  readonly secure: boolean;
  /** The host to connect to (brackets of an IPv6 literal removed). */
  readonly hostname: string;
  readonly port: number;
  /** The Host header: the URL's authority as written (Go keeps an explicit default port). */
  readonly host: string;
}

const AUTHORITY = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/(?:[^@/?#]*@)?([^/?#]*)/;

/**
 * Reads the origin of an absolute http(s) URL.
 * @throws TypeError when the URL does not parse or its scheme is not http or https
 */
export function parseOrigin(url: string | URL): UpstreamOrigin {
  const parsed = typeof url === "string" ? new URL(url) : url;
  const secure = parsed.protocol === "https:";
  if (!secure && parsed.protocol !== "http:") {
    throw new TypeError(`Cannot send to ${parsed.protocol}// URLs: only http and https`);
  }
  const port = Number(parsed.port) || (secure ? 443 : 80);
  const hostname = parsed.hostname.replace(/^\[|\]$/g, "");
  return {
    key: `${parsed.protocol}//${parsed.hostname}:${port}`,
    secure,
    hostname,
    port,
    host: AUTHORITY.exec(String(url))?.[1] || parsed.host,
  };
}

/** Options of {@link ConnectionPool}. */
export interface PoolOptions {
  /** Idle connections kept per origin (`max_idle_connections_per_host`); 0 keeps none. @default 100 */
  maxIdlePerHost?: number;
}

/** Why a connection could not be opened. */
export class ConnectError extends Error {
  override name = "ConnectError";
  constructor(readonly dns: boolean, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

const DNS_FAILURE = /lookup|resolve|name or service not known|nodename nor servname|no address/i;

/** Keep-alive connections, shared by every API of the process. */
export class ConnectionPool {
  #idle = new Map<string, Connection[]>();
  #maxIdle: number;
  #open = new Set<Connection>();

  constructor(options: PoolOptions = {}) {
    this.#maxIdle = options.maxIdlePerHost ?? 100;
  }

  /** An idle connection for a pool key ({@link poolKey}), or null. */
  take(key: string): Connection | null {
    const idle = this.#idle.get(key);
    const conn = idle?.pop() ?? null;
    conn?.unpark();
    return conn;
  }

  /**
   * Opens a connection.
   * @throws ConnectError
   */
  async open(origin: UpstreamOrigin, insecure: boolean): Promise<Connection> {
    let socket: Socket;
    try {
      if (!origin.secure) {
        const tcp = await Deno.connect({ hostname: origin.hostname, port: origin.port });
        tcp.setNoDelay(true);
        socket = tcp;
      } else if (insecure) {
        socket = await connectInsecureTls(origin.hostname, origin.port);
      } else {
        const tls = await Deno.connectTls({ hostname: origin.hostname, port: origin.port });
        try {
          await tls.handshake();
        } catch (err) {
          tls.close();
          throw err;
        }
        socket = tls;
      }
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new ConnectError(DNS_FAILURE.test(message), `Cannot connect to ${origin.key}: ${message}`, {
        cause: err,
      });
    }
    const conn = new Connection(socket, poolKey(origin, insecure));
    this.#open.add(conn);
    return conn;
  }

  /** Returns a connection after an exchange: kept for the next request when it may be, else closed. */
  release(conn: Connection, reusable: boolean): void {
    if (!reusable || conn.closed || conn.hasUnreadBytes) return this.#drop(conn);
    let idle = this.#idle.get(conn.key);
    if (idle === undefined) this.#idle.set(conn.key, idle = []);
    if (idle.length >= this.#maxIdle) return this.#drop(conn);
    idle.push(conn);
    conn.park(this.#onIdleEnd);
  }

  /** Closes a connection that will not be used again. */
  #drop(conn: Connection): void {
    conn.close();
    this.#open.delete(conn);
  }

  #onIdleEnd = (conn: Connection) => {
    const idle = this.#idle.get(conn.key);
    const at = idle?.indexOf(conn) ?? -1;
    if (at >= 0) idle!.splice(at, 1);
    this.#open.delete(conn);
  };

  /** Closes every connection, idle or in use. */
  close(): void {
    for (const conn of this.#open) conn.close();
    this.#open.clear();
    this.#idle.clear();
  }
}

/** The pool key: verified and unverified TLS connections to one origin must never be shared. */
export function poolKey(origin: UpstreamOrigin, insecure: boolean): string {
  return origin.secure && insecure ? `${origin.key}#insecure` : origin.key;
}
