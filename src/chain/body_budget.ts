/**
 * Bounds the request bodies the gateway holds in memory. A body no step reads streams to the upstream and
 * is never held; a step that must see it (JS hooks, virtual endpoints, the response cache's key) buffers it
 * here, at most `maxBodySize` bytes for one request (413, as Tyk answers `max_request_body_size`) and
 * `maxTotalSize` bytes across the requests in flight (503 beyond, so a burst of uploads cannot take the
 * process's memory). Tyk itself buffers such bodies without a bound.
 */
import { GatewayError, MESSAGES } from "./errors.ts";

/** The limits, resolved once from `tyk.conf`. */
export interface BodyBudgetOptions {
  /** Largest body one request may buffer, in bytes. */
  maxBodySize: number;
  /** Bytes all buffered bodies together may hold at once. */
  maxTotalSize: number;
}

/** What one request holds of the budget; handed back with {@link BodyBudget.release}. */
export interface BodyHold {
  bytes: number;
}

/** Tyk's answer to a body over the limit (made once: every such request gets the same). */
export const BODY_TOO_LARGE = new GatewayError(413, MESSAGES.requestEntityTooLarge, { plain: true });
const BUFFER_FULL = new GatewayError(503, MESSAGES.bodyBufferFull);

/** The gateway's budget for buffered request bodies. */
export class BodyBudget {
  readonly maxBodySize: number;
  readonly maxTotalSize: number;
  #inUse = 0;

  constructor(options: BodyBudgetOptions) {
    for (const name of ["maxBodySize", "maxTotalSize"] as const) {
      if (!(options[name] > 0)) {
        throw new RangeError(`Cannot bound request bodies: ${name} must be above 0, got ${options[name]}`);
      }
    }
    this.maxBodySize = options.maxBodySize;
    this.maxTotalSize = options.maxTotalSize;
  }

  /** Bytes held by buffered bodies now. */
  get inUse(): number {
    return this.#inUse;
  }

  /**
   * Reads a body into memory. A declared length is held before the first byte is read, so a body that
   * cannot fit is refused before it is received; without one, the hold grows with each chunk.
   * @param declaredLength the request's Content-Length, `null` when it has none
   * @param hold what this request holds so far; grows by what this body takes
   * @throws GatewayError 413 when the body is larger than `maxBodySize`, 503 when the total is used up;
   * the stream's own error when the client's body breaks
   */
  async buffer(
    body: ReadableStream<Uint8Array>,
    declaredLength: number | null,
    hold: BodyHold,
  ): Promise<Uint8Array> {
    if (declaredLength !== null) {
      if (declaredLength > this.maxBodySize) throw refuse(body, BODY_TOO_LARGE);
      if (!this.#take(declaredLength, hold)) throw refuse(body, BUFFER_FULL);
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of body) {
      size += chunk.byteLength;
      // Deno's HTTP engine already refuses a body longer than its Content-Length
      if (size > this.maxBodySize) throw refuse(body, BODY_TOO_LARGE);
      if (declaredLength === null && !this.#take(chunk.byteLength, hold)) throw refuse(body, BUFFER_FULL);
      chunks.push(chunk);
    }
    if (chunks.length === 1) return chunks[0];
    const bytes = new Uint8Array(size);
    let offset = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, offset);
      offset += chunk.byteLength;
    }
    return bytes;
  }

  /** Gives back what a request held; call once, when the request is done. */
  release(hold: BodyHold): void {
    this.#inUse -= hold.bytes;
    hold.bytes = 0;
  }

  #take(bytes: number, hold: BodyHold): boolean {
    if (this.#inUse + bytes > this.maxTotalSize) return false;
    this.#inUse += bytes;
    hold.bytes += bytes;
    return true;
  }
}

/** Stops reading a body that will not be used; the error is what the client is answered. */
function refuse(body: ReadableStream<Uint8Array>, err: GatewayError): GatewayError {
  if (!body.locked) body.cancel().catch(() => {});
  return err;
}
