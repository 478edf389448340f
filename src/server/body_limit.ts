/**
 * `http_server_options.max_request_body_size` at the edge, before routing, as Tyk applies it in
 * `handleWrapper` (gateway/proxy_muxer.go): a declared Content-Length over the limit is refused at once, and a
 * body without one is counted as it streams. Tyk reads every body into memory to count it; here the body
 * keeps streaming to the upstream, and only a body that turns out too long is cut and answered with 413.
 */

/** What the edge decided about a request's body. */
export type BodyVerdict =
  /** Over the limit by its Content-Length: answer 413 without reading it. */
  | "too large"
  /** Within the limit, or no limit: use the body as it is. */
  | "ok"
  /** No Content-Length: wrap it with {@link countedBody}. */
  | "count";

/**
 * Checks a request's declared length against the limit.
 * @param limit `max_request_body_size` in bytes; 0 means none
 */
export function checkBodySize(request: Request, body: ReadableStream | null, limit: number): BodyVerdict {
  if (limit <= 0 || body === null) return "ok";
  const declared = request.headers.get("content-length");
  if (declared === null) return "count";
  return Number(declared) > limit ? "too large" : "ok";
}

/**
 * Passes a body through until it grows past `limit`, then errors it (the upstream request or the step reading
 * it fails) and calls `onOverLimit`, so the handler answers 413 instead of what that failure would give.
 */
export function countedBody(
  body: ReadableStream<Uint8Array>,
  limit: number,
  onOverLimit: () => void,
): ReadableStream<Uint8Array> {
  let size = 0;
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        size += chunk.byteLength;
        if (size > limit) {
          onOverLimit();
          controller.error(
            new RangeError(`Request body is longer than max_request_body_size (${limit} bytes)`),
          );
          return;
        }
        controller.enqueue(chunk);
      },
    }),
  );
}
