/**
 * A strict HTTP/1.1 server on loopback that records the exact bytes of every request, for tests of every path
 * where bytes leave the gateway (proxy, host API, webhooks). `Deno.serve` forgives framing mistakes; this server
 * does not: a request whose framing is ambiguous or malformed is answered `400`, recorded in `errors`, and its
 * connection closed, so a test sees exactly what a strict upstream would.
 *
 * Strict means: a request line `METHOD SP target SP HTTP/1.x` and header lines all end in CRLF (a bare LF is an
 * error); header names are tokens with no space before the colon; no obsolete line folding; HTTP/1.1 requires
 * `Host`; `Content-Length` is one run of digits (a list or differing repeats are errors); `Transfer-Encoding`
 * must be exactly `chunked` and never comes with `Content-Length`; chunked bodies need hex sizes and the CRLF
 * after each chunk. Bytes before a request line (even an empty line) are an error too: a client must not send
 * them, and a body that spilled past its framing shows up here.
 *
 * @example
 * await using server = await startRawHttpServer({
 *   respond: (req) => ({ status: 200, headers: [["Content-Type", "text/plain"]], body: `saw ${req.target}` }),
 * });
 * await fetch(`${server.url}/x`);
 * assert.equal(server.requests[0].head, "GET /x HTTP/1.1\r\nhost: ...");
 */

/** One request as the server parsed it. */
export interface RawRequest {
  /** Which connection carried it (index into `connections`). */
  connection: number;
  /** Its position on that connection, from 0. */
  index: number;
  method: string;
  /** The request target exactly as sent (`/path?query`). */
  target: string;
  /** `HTTP/1.1` or `HTTP/1.0`. */
  version: string;
  /** Header lines in order, names exactly as written (case kept), values without surrounding whitespace. */
  headers: [string, string][];
  /** How the body was framed. */
  framing: "none" | "content-length" | "chunked";
  /** The body after de-chunking. */
  body: Uint8Array;
  /** Trailer lines of a chunked body. */
  trailers: [string, string][];
  /** The request line and headers as text, up to and including the blank line. */
  head: string;
  /** Every byte of this request, head and framed body, exactly as received. */
  raw: Uint8Array;
  /** The first value of a header, matched case-insensitively; `undefined` when absent. */
  header(name: string): string | undefined;
  /** The body as UTF-8 text. */
  text(): string;
}

/** A request the server refused with 400. */
export interface RawError {
  connection: number;
  /** Why it was refused, e.g. `bare LF in header line`. */
  message: string;
  /** The bytes of the connection received from the start of the refused request. */
  bytes: Uint8Array;
}

/** One accepted TCP (or TLS) connection. */
export interface RawConnection {
  id: number;
  /** Every byte received on it so far. */
  bytes(): Uint8Array;
  /** Requests parsed on it, in order. */
  requests: RawRequest[];
  /** True once either side closed it. */
  closed: boolean;
}

/** What the server answers a request with. Written exactly as given; nothing is added but framing. */
export interface RawResponse {
  /** @default 200 */
  status?: number;
  /** @default the usual phrase for the status, or "Status" */
  reason?: string;
  /** Header lines in order, names exactly as given. */
  headers?: [string, string][];
  /** The body. `Content-Length` is added unless `chunks`, `noLength` or a header already frames it. */
  body?: string | Uint8Array;
  /** Send the body chunked, one chunk per entry (adds `Transfer-Encoding: chunked`). */
  chunks?: (string | Uint8Array)[];
  /** Send no framing header at all: the body ends when the connection closes (implies `close`). */
  noLength?: boolean;
  /** Interim responses (e.g. `100`, `103`) written before the final one, each with its header lines. */
  interim?: { status: number; headers?: [string, string][] }[];
  /** Close the connection after this response (adds `Connection: close` unless already present). */
  close?: boolean;
  /**
   * Stop after this many bytes of the (framed) body and close the connection: an upstream dying mid-body.
   */
  truncateAfter?: number;
  /** Bytes written instead of a response built from the fields above; `close` still applies. */
  raw?: string | Uint8Array;
}

/** How the server answers; the default answers `200` with body `ok`. */
export type RawResponder = (
  request: RawRequest,
  connection: RawConnection,
) => RawResponse | Promise<RawResponse>;

/** Options of {@link startRawHttpServer}. */
export interface RawHttpServerOptions {
  /** Builds each response. @default () => ({ body: "ok" }) */
  respond?: RawResponder;
  /** Serve TLS with this certificate and key (PEM); the URL is then `https://`. */
  tls?: { cert: string; key: string };
  /** Longest request line or header line accepted. @default 16384 */
  maxLineBytes?: number;
}

/** A running raw server. */
export interface RawHttpServer extends AsyncDisposable {
  /** `http://127.0.0.1:<port>` (or `https://`). */
  url: string;
  port: number;
  /** All accepted connections, in order. */
  connections: RawConnection[];
  /** All parsed requests, in arrival order across connections. */
  requests: RawRequest[];
  /** Every refused request. A correct client leaves this empty. */
  errors: RawError[];
  /** Resolves once `check()` holds, re-checked after every server event; rejects after `timeoutMs`. */
  waitUntil(check: () => boolean, timeoutMs?: number): Promise<void>;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

const REASONS: Record<number, string> = {
  100: "Continue",
  101: "Switching Protocols",
  103: "Early Hints",
  200: "OK",
  201: "Created",
  204: "No Content",
  206: "Partial Content",
  301: "Moved Permanently",
  302: "Found",
  304: "Not Modified",
  400: "Bad Request",
  404: "Not Found",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
};

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const ENCODER = new TextEncoder();
const DECODER = new TextDecoder();

/** Thrown by the parser: the request is refused with 400. */
class StrictError extends Error {}

/** Reads from a connection into one growing buffer; `consumed` marks where the next request starts. */
class ByteReader {
  #conn: Deno.Conn;
  #buf = new Uint8Array(64 * 1024);
  #len = 0;
  /** Where the parser is. */
  pos = 0;
  #onData: () => void;

  constructor(conn: Deno.Conn, onData: () => void) {
    this.#conn = conn;
    this.#onData = onData;
  }

  /** Every byte received so far. */
  all(): Uint8Array {
    return this.#buf.subarray(0, this.#len);
  }

  #pending: Promise<boolean> | null = null;

  /** Reads more bytes; false at end of stream. Calls while a read is in flight share it. */
  fill(): Promise<boolean> {
    this.#pending ??= this.#read().finally(() => this.#pending = null);
    return this.#pending;
  }

  async #read(): Promise<boolean> {
    if (this.#len === this.#buf.length) {
      const bigger = new Uint8Array(this.#buf.length * 2);
      bigger.set(this.#buf.subarray(0, this.#len));
      this.#buf = bigger;
    }
    let n: number | null;
    try {
      n = await this.#conn.read(this.#buf.subarray(this.#len));
    } catch {
      n = null;
    }
    if (n === null) return false;
    this.#len += n;
    this.#onData();
    return true;
  }

  /** True when at least one unread byte is buffered, reading if needed; false at end of stream. */
  async more(): Promise<boolean> {
    return this.pos < this.#len || await this.fill();
  }

  /** One CRLF-terminated line without its CRLF; a bare LF or an overlong line is a StrictError. */
  async line(max: number): Promise<string> {
    let scanned = this.pos;
    for (;;) {
      for (; scanned < this.#len; scanned++) {
        const b = this.#buf[scanned];
        if (b === 0x0a) throw new StrictError("bare LF (line not ended by CRLF)");
        if (b === 0x0d) {
          if (scanned + 1 >= this.#len) break;
          if (this.#buf[scanned + 1] !== 0x0a) throw new StrictError("CR not followed by LF");
          const text = latin1(this.#buf.subarray(this.pos, scanned));
          this.pos = scanned + 2;
          return text;
        }
        if (scanned - this.pos > max) throw new StrictError(`line longer than ${max} bytes`);
      }
      if (!await this.fill()) throw new StrictError("connection closed inside a line");
    }
  }

  /** Exactly `n` bytes. */
  async bytes(n: number): Promise<Uint8Array> {
    while (this.#len - this.pos < n) {
      if (!await this.fill()) {
        throw new StrictError(`connection closed ${n - (this.#len - this.pos)} bytes short of the body`);
      }
    }
    const out = this.#buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

function latin1(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return s;
}

function toBytes(data: string | Uint8Array): Uint8Array {
  return typeof data === "string" ? ENCODER.encode(data) : data;
}

async function readHeaderLines(reader: ByteReader, max: number): Promise<[string, string][]> {
  const headers: [string, string][] = [];
  for (;;) {
    const line = await reader.line(max);
    if (line === "") return headers;
    if (line[0] === " " || line[0] === "\t") throw new StrictError("obsolete line folding");
    const colon = line.indexOf(":");
    if (colon <= 0) throw new StrictError(`header line without a name: ${JSON.stringify(line)}`);
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) throw new StrictError(`invalid header name ${JSON.stringify(name)}`);
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "");
    if (hasControlByte(value)) throw new StrictError(`control byte in header ${name}`);
    headers.push([name, value]);
  }
}

/** A control byte other than tab: RFC 9110 forbids them in field values. */
function hasControlByte(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return true;
  }
  return false;
}

function values(headers: [string, string][], name: string): string[] {
  const lower = name.toLowerCase();
  return headers.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
}

async function readChunked(reader: ByteReader, max: number) {
  const parts: Uint8Array[] = [];
  for (;;) {
    const line = await reader.line(max);
    const m = /^([0-9A-Fa-f]{1,15})(;[!#$%&'*+\-.^_`|~0-9A-Za-z]+(=[^;]*)?)*$/.exec(line);
    if (!m) throw new StrictError(`invalid chunk size line ${JSON.stringify(line)}`);
    const size = parseInt(m[1], 16);
    if (size === 0) {
      const trailers = await readHeaderLines(reader, max);
      return { body: concat(parts), trailers };
    }
    parts.push(await reader.bytes(size));
    const end = await reader.bytes(2);
    if (end[0] !== 0x0d || end[1] !== 0x0a) throw new StrictError("chunk data not followed by CRLF");
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Parses one request at the reader's position; `null` when the connection ended cleanly before it. */
async function readRequest(
  reader: ByteReader,
  connection: number,
  index: number,
  max: number,
): Promise<RawRequest | null> {
  if (!await reader.more()) return null;
  const start = reader.pos;
  const requestLine = await reader.line(max);
  const m = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([^\s]+) (HTTP\/1\.[01])$/.exec(requestLine);
  if (!m) throw new StrictError(`invalid request line ${JSON.stringify(requestLine)}`);
  const [, method, target, version] = m;
  const headers = await readHeaderLines(reader, max);
  const headEnd = reader.pos;
  if (version === "HTTP/1.1" && values(headers, "host").length !== 1) {
    throw new StrictError("HTTP/1.1 request without exactly one Host header");
  }
  const lengths = values(headers, "content-length");
  const encodings = values(headers, "transfer-encoding");
  let framing: RawRequest["framing"] = "none";
  let body: Uint8Array = new Uint8Array(0);
  let trailers: [string, string][] = [];
  if (encodings.length > 0) {
    if (lengths.length > 0) throw new StrictError("both Content-Length and Transfer-Encoding");
    if (encodings.length !== 1 || encodings[0].toLowerCase() !== "chunked") {
      throw new StrictError(`unsupported Transfer-Encoding ${JSON.stringify(encodings.join(", "))}`);
    }
    framing = "chunked";
    ({ body, trailers } = await readChunked(reader, max));
  } else if (lengths.length > 0) {
    if (lengths.some((v) => !/^\d{1,15}$/.test(v))) {
      throw new StrictError(`invalid Content-Length ${JSON.stringify(lengths.join(", "))}`);
    }
    if (new Set(lengths).size !== 1) throw new StrictError("differing Content-Length headers");
    framing = "content-length";
    body = await reader.bytes(Number(lengths[0]));
  }
  const raw = reader.all().slice(start, reader.pos);
  return {
    connection,
    index,
    method,
    target,
    version,
    headers,
    framing,
    body,
    trailers,
    head: latin1(raw.subarray(0, headEnd - start)),
    raw,
    header: (name) => values(headers, name)[0],
    text: () => DECODER.decode(body),
  };
}

const NO_BODY_STATUS = (status: number) => status < 200 || status === 204 || status === 304;

function serialise(res: RawResponse, method: string, closing: boolean): Uint8Array {
  if (res.raw !== undefined) return toBytes(res.raw);
  let head = "";
  for (const interim of res.interim ?? []) {
    head += `HTTP/1.1 ${interim.status} ${REASONS[interim.status] ?? "Status"}\r\n`;
    for (const [n, v] of interim.headers ?? []) head += `${n}: ${v}\r\n`;
    head += "\r\n";
  }
  const status = res.status ?? 200;
  head += `HTTP/1.1 ${status} ${res.reason ?? REASONS[status] ?? "Status"}\r\n`;
  const headers = res.headers ?? [];
  for (const [n, v] of headers) head += `${n}: ${v}\r\n`;
  const has = (name: string) => values(headers, name).length > 0;
  const bodyAllowed = method !== "HEAD" && !NO_BODY_STATUS(status);
  let body: Uint8Array = new Uint8Array(0);
  if (res.chunks) {
    if (!has("transfer-encoding")) head += "Transfer-Encoding: chunked\r\n";
    const parts: Uint8Array[] = [];
    for (const chunk of res.chunks) {
      const bytes = toBytes(chunk);
      if (bytes.length === 0) continue;
      parts.push(ENCODER.encode(`${bytes.length.toString(16)}\r\n`), bytes, ENCODER.encode("\r\n"));
    }
    parts.push(ENCODER.encode("0\r\n\r\n"));
    if (bodyAllowed) body = concat(parts);
  } else {
    const bytes = toBytes(res.body ?? (NO_BODY_STATUS(status) ? "" : "ok"));
    if (!res.noLength && !has("content-length") && !has("transfer-encoding") && !NO_BODY_STATUS(status)) {
      head += `Content-Length: ${bytes.length}\r\n`;
    }
    if (bodyAllowed) body = bytes;
  }
  if (closing && !has("connection")) head += "Connection: close\r\n";
  head += "\r\n";
  let out = concat([ENCODER.encode(head), body]);
  if (res.truncateAfter !== undefined) {
    out = out.subarray(0, out.length - body.length + Math.min(res.truncateAfter, body.length));
  }
  return out;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
}

/**
 * Starts a strict raw HTTP/1.1 server on a free loopback port.
 * @example
 * const server = await startRawHttpServer();
 * try { ... } finally { await server.close(); }
 */
export function startRawHttpServer(options: RawHttpServerOptions = {}): Promise<RawHttpServer> {
  const respond: RawResponder = options.respond ?? (() => ({ body: "ok" }));
  const max = options.maxLineBytes ?? 16384;
  const listener: Deno.Listener = options.tls
    ? Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert: options.tls.cert, key: options.tls.key })
    : Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const connections: RawConnection[] = [];
  const requests: RawRequest[] = [];
  const errors: RawError[] = [];
  const open = new Set<Deno.Conn>();
  const waiters = new Set<() => void>();
  const changed = () => {
    for (const w of waiters) w();
  };
  const handlers: Promise<void>[] = [];

  async function serve(conn: Deno.Conn, id: number): Promise<void> {
    const reader = new ByteReader(conn, changed);
    const record: RawConnection = { id, bytes: () => reader.all().slice(), requests: [], closed: false };
    connections.push(record);
    changed();
    try {
      for (let index = 0;; index++) {
        const start = reader.pos;
        let req: RawRequest | null;
        try {
          req = await readRequest(reader, id, index, max);
        } catch (err) {
          if (!(err instanceof StrictError)) throw err;
          errors.push({ connection: id, message: err.message, bytes: reader.all().slice(start) });
          changed();
          await writeAll(conn, serialise({ status: 400, body: err.message }, "GET", true)).catch(() => {});
          return;
        }
        if (req === null) return;
        record.requests.push(req);
        requests.push(req);
        changed();
        // a client that gives up while the answer is pending closes the connection: show it
        reader.fill().then((more) => {
          if (more) return;
          record.closed = true;
          changed();
        });
        const res = await respond(req, record);
        const closing = !!res.close || !!res.noLength || res.truncateAfter !== undefined ||
          req.version === "HTTP/1.0" || /(^|,)\s*close\s*(,|$)/i.test(req.header("connection") ?? "");
        await writeAll(conn, serialise(res, req.method, closing && res.raw === undefined));
        if (closing) return;
      }
    } catch {
      // the peer reset the connection; what arrived is recorded
    } finally {
      open.delete(conn);
      try {
        conn.close();
      } catch { /* already closed */ }
      record.closed = true;
      changed();
    }
  }

  const accepting = (async () => {
    for (let id = 0;; id++) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch {
        return;
      }
      open.add(conn);
      handlers.push(serve(conn, id));
    }
  })();

  let closed: Promise<void> | null = null;
  const close = () => {
    closed ??= (async () => {
      listener.close();
      await accepting;
      for (const conn of open) {
        try {
          conn.close();
        } catch { /* closing already */ }
      }
      await Promise.all(handlers);
    })();
    return closed;
  };

  return Promise.resolve({
    url: `${options.tls ? "https" : "http"}://127.0.0.1:${port}`,
    port,
    connections,
    requests,
    errors,
    waitUntil(check, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const test = () => {
          if (!check()) return;
          waiters.delete(test);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(test);
          reject(
            new Error(
              `Raw server condition not met within ${timeoutMs} ms; requests: ${
                JSON.stringify(requests.map((r) => r.head))
              }, errors: ${JSON.stringify(errors.map((e) => e.message))}`,
            ),
          );
        }, timeoutMs);
        waiters.add(test);
        test();
      });
    },
    close,
    [Symbol.asyncDispose]: close,
  });
}
