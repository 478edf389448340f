/** Small HTTP helpers for end-to-end tests. */

/** Awaits a response and returns its status, discarding the body so no resource leaks. */
export async function statusOf(response: Promise<Response>): Promise<number> {
  const res = await response;
  await res.body?.cancel();
  return res.status;
}

/** A response read off the wire by {@link rawRequest}. */
export interface RawReply {
  status: number;
  /** Header lines in order, names lower-cased. */
  headers: [string, string][];
  /** The body, de-chunked. */
  body: Uint8Array;
}

function dechunk(bytes: Uint8Array): Uint8Array {
  const out: number[] = [];
  let i = 0;
  const text = new TextDecoder("latin1");
  for (;;) {
    const eol = bytes.indexOf(10, i);
    const size = parseInt(text.decode(bytes.subarray(i, eol)).trim(), 16);
    if (!size) return new Uint8Array(out);
    out.push(...bytes.subarray(eol + 1, eol + 1 + size));
    i = eol + 1 + size + 2;
  }
}

/**
 * Sends `head` (request line and header lines, each ending in CRLF, without the blank line) and `body` on a
 * new connection with `Connection: close`, for requests `fetch` cannot make (repeated header lines).
 */
export async function rawRequest(port: number, head: string, body = new Uint8Array(0)): Promise<RawReply> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const length = body.length > 0 ? `Content-Length: ${body.length}\r\n` : "";
  const request = new TextEncoder().encode(`${head}${length}Connection: close\r\n\r\n`);
  const all = new Uint8Array(request.length + body.length);
  all.set(request);
  all.set(body, request.length);
  await conn.write(all);
  const received = new Uint8Array(await new Response(conn.readable).arrayBuffer());
  const end = received.findIndex((_, i) =>
    received[i] === 13 && received[i + 1] === 10 && received[i + 2] === 13 && received[i + 3] === 10
  );
  const lines = new TextDecoder().decode(received.subarray(0, end)).split("\r\n");
  const headers = lines.slice(1).map((line) => {
    const colon = line.indexOf(":");
    return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()] as [string, string];
  });
  const rest = received.subarray(end + 4);
  const chunked = headers.some(([name, value]) => name === "transfer-encoding" && value === "chunked");
  return { status: Number(lines[0].split(" ")[1]), headers, body: chunked ? dechunk(rest) : rest };
}
