/**
 * One HTTP/1.1 connection to an upstream: a socket, a read buffer, and the body readers (length, chunked,
 * until close). While the connection waits in a pool it keeps one read in flight, as Go's transport does, so
 * an upstream that closes an idle connection is noticed before a request is written onto it.
 */
import {
  CHUNKED,
  headEnd,
  MalformedResponse,
  parseResponseHead,
  type ResponseHead,
  UNTIL_CLOSE,
} from "./response_head.ts";

/** What a connection needs from a socket; `Deno.Conn` and `Deno.TlsConn` are ones. */
export interface Socket {
  read(buffer: Uint8Array): Promise<number | null>;
  write(data: Uint8Array): Promise<number>;
  close(): void;
}

/** The upstream closed the connection or sent something that is not HTTP. */
export class ConnectionError extends Error {
  override name = "ConnectionError";
  constructor(message: string, readonly beforeResponse: boolean, options?: ErrorOptions) {
    super(message, options);
  }
}

const BUFFER_SIZE = 16 * 1024;
const STREAM_CHUNK = 64 * 1024;
const MAX_HEAD = 1024 * 1024;
const MAX_INTERIM = 5;

/** How a body read ended: `true` when the connection may carry another request. */
export type BodyDone = (reusable: boolean) => void;

/** A connection; `busy` while one exchange uses it. */
export class Connection {
  #socket: Socket;
  #buf: Uint8Array<ArrayBuffer> = new Uint8Array(BUFFER_SIZE);
  #start = 0;
  #end = 0;
  /** The socket read in flight (into `#buf` at `#end`), kept across parking. */
  #reading: Promise<number | null> | null = null;
  #closed = false;
  /** What the socket's last read failed with (a reset, a TLS alert), to say why the connection ended. */
  #readError: Error | null = null;
  /** Requests this connection carried; above 0 it came from the pool. */
  uses = 0;
  /** Set while pooled: called if the upstream closes it or sends stray bytes. */
  #onIdleEnd: ((conn: Connection) => void) | null = null;

  /**
   * @param socket the open socket
   * @param key which pool the connection belongs to
   */
  constructor(socket: Socket, readonly key: string) {
    this.#socket = socket;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Closes the socket; safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#onIdleEnd = null;
    try {
      this.#socket.close();
    } catch { /* already closed by the peer */ }
  }

  /** Writes all of `data`. */
  async write(data: Uint8Array): Promise<void> {
    for (let at = 0; at < data.length;) at += await this.#socket.write(at === 0 ? data : data.subarray(at));
  }

  #read(): Promise<number | null> {
    if (this.#start === this.#end) this.#start = this.#end = 0;
    if (this.#end === this.#buf.length) {
      const pending = this.#end - this.#start;
      const next = pending * 2 > this.#buf.length ? new Uint8Array(this.#buf.length * 2) : this.#buf;
      next.set(this.#buf.subarray(this.#start, this.#end));
      this.#buf = next;
      this.#start = 0;
      this.#end = pending;
    }
    return this.#socket.read(this.#buf.subarray(this.#end));
  }

  /** Reads more bytes into the buffer; false at end of stream. */
  async #fill(): Promise<boolean> {
    const reading = this.#reading ?? this.#read();
    this.#reading = null;
    let n: number | null;
    try {
      n = await reading;
    } catch (err) {
      // reset by the peer, a TLS alert, or closed by us (timeout, cancel): the end of this connection either way
      if (err instanceof Error) this.#readError = err;
      n = null;
    }
    if (n === null) return false;
    this.#end += n;
    return true;
  }

  /**
   * Parks the connection in a pool: one read stays in flight, and `onIdleEnd` runs if it completes before
   * the connection is taken again (the upstream closed it, or sent bytes nobody asked for).
   */
  park(onIdleEnd: (conn: Connection) => void): void {
    this.#onIdleEnd = onIdleEnd;
    const reading = this.#reading = this.#read();
    const ended = () => {
      const onEnd = this.#onIdleEnd;
      if (onEnd === null || this.#reading !== reading) return;
      this.close();
      onEnd(this);
    };
    reading.then(ended, ended);
  }

  /** Takes a parked connection for a request. */
  unpark(): void {
    this.#onIdleEnd = null;
  }

  /** True when bytes arrived that no response asked for: the connection is out of step. */
  get hasUnreadBytes(): boolean {
    return this.#start !== this.#end;
  }

  /**
   * Reads the final response head, skipping interim (1xx other than 101) responses as Go does.
   * @throws ConnectionError
   */
  async readHead(method: string): Promise<ResponseHead> {
    for (let interim = 0;; interim++) {
      let scanned = this.#start;
      let end = headEnd(this.#buf, scanned, this.#end);
      while (end < 0) {
        if (this.#end - this.#start > MAX_HEAD) {
          throw new ConnectionError(`response head larger than ${MAX_HEAD} bytes`, false);
        }
        scanned = Math.max(this.#start, this.#end - 2);
        const received = this.#end - this.#start;
        if (!await this.#fill()) {
          const why = this.#readError;
          throw new ConnectionError(
            `upstream closed the connection before answering${why === null ? "" : `: ${why.message}`}`,
            received === 0,
            { cause: why ?? undefined },
          );
        }
        end = headEnd(this.#buf, Math.max(this.#start, scanned), this.#end);
      }
      let head: ResponseHead;
      try {
        head = parseResponseHead(this.#buf, this.#start, end, method);
      } catch (err) {
        if (err instanceof MalformedResponse) throw new ConnectionError(err.message, false, { cause: err });
        throw err;
      }
      this.#start = end;
      if (head.status >= 200 || head.status === 101) return head;
      if (interim === MAX_INTERIM) throw new ConnectionError("too many interim responses", false);
    }
  }

  /**
   * The body, when all of it is already buffered (the common small response), as a view into the buffer:
   * valid until the connection's next read, so copy it before then. `null` when it has not all arrived.
   */
  viewBuffered(length: number): Uint8Array<ArrayBuffer> | null {
    if (this.#end - this.#start < length) return null;
    const body = this.#buf.subarray(this.#start, this.#start + length);
    this.#start += length;
    return body;
  }

  /** Streams a body of `length` bytes (or {@link CHUNKED}, or until close); `done` runs once it ended. */
  streamBody(length: number, done: BodyDone): ReadableStream<Uint8Array<ArrayBuffer>> {
    const read = length === CHUNKED
      ? this.#chunkedReader()
      : length >= 0
      ? this.#lengthReader(length)
      : this.#untilCloseReader();
    let finished = false;
    const finish = (reusable: boolean) => {
      if (finished) return;
      finished = true;
      if (!reusable) this.close();
      done(reusable);
    };
    return new ReadableStream<Uint8Array<ArrayBuffer>>({
      pull: async (controller) => {
        try {
          const chunk = await read();
          if (chunk === null) {
            controller.close();
            finish(length !== UNTIL_CLOSE);
          } else controller.enqueue(chunk);
        } catch (err) {
          finish(false);
          controller.error(err);
        }
      },
      cancel: () => finish(false),
    }, { highWaterMark: 0 });
  }

  /** Takes up to `max` buffered bytes, reading first if none are buffered; null at end of stream. */
  async #next(max: number): Promise<Uint8Array<ArrayBuffer> | null> {
    if (this.#start === this.#end) {
      // past the buffer: read straight into a fresh array the stream hands on, no copy
      if (max >= BUFFER_SIZE && this.#reading === null) {
        const chunk = new Uint8Array(Math.min(max, STREAM_CHUNK));
        const n = await this.#socket.read(chunk).catch(() => null);
        return n === null ? null : chunk.subarray(0, n);
      }
      if (!await this.#fill()) return null;
    }
    const n = Math.min(max, this.#end - this.#start);
    const chunk = this.#buf.slice(this.#start, this.#start + n);
    this.#start += n;
    return chunk;
  }

  #lengthReader(length: number): () => Promise<Uint8Array<ArrayBuffer> | null> {
    let left = length;
    return async () => {
      if (left === 0) return null;
      const chunk = await this.#next(left);
      if (chunk === null) {
        throw new ConnectionError(`upstream closed the connection ${left} bytes short of the body`, false);
      }
      left -= chunk.length;
      return chunk;
    };
  }

  #untilCloseReader(): () => Promise<Uint8Array<ArrayBuffer> | null> {
    return () => this.#next(STREAM_CHUNK);
  }

  /** One line of a chunked body (size line or trailer), without its line end. */
  async #line(): Promise<string> {
    for (;;) {
      const lf = this.#buf.subarray(this.#start, this.#end).indexOf(0x0a);
      if (lf >= 0) {
        let stop = this.#start + lf;
        if (stop > this.#start && this.#buf[stop - 1] === 0x0d) stop--;
        let line = "";
        for (let i = this.#start; i < stop; i++) line += String.fromCharCode(this.#buf[i]);
        this.#start += lf + 1;
        return line;
      }
      if (this.#end - this.#start > 4096) throw new ConnectionError("chunk size line too long", false);
      if (!await this.#fill()) {
        throw new ConnectionError("upstream closed the connection inside a chunked body", false);
      }
    }
  }

  #chunkedReader(): () => Promise<Uint8Array<ArrayBuffer> | null> {
    let left = 0;
    let ended = false;
    return async () => {
      if (ended) return null;
      while (left === 0) {
        const line = await this.#line();
        const size = /^([0-9a-fA-F]{1,15})[ \t]*(;.*)?$/.exec(line);
        if (!size) {
          throw new ConnectionError(`invalid chunk size line ${JSON.stringify(line.slice(0, 40))}`, false);
        }
        left = parseInt(size[1], 16);
        if (left === 0) {
          // trailers, up to the blank line: Go's ReverseProxy forwards only announced ones; none are kept here
          while (await this.#line() !== "");
          ended = true;
          return null;
        }
      }
      const chunk = await this.#next(left);
      if (chunk === null) throw new ConnectionError("upstream closed the connection inside a chunk", false);
      left -= chunk.length;
      if (left === 0 && await this.#line() !== "") {
        throw new ConnectionError("chunk not followed by CRLF", false);
      }
      return chunk;
    };
  }
}
