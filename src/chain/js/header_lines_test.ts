import assert from "node:assert/strict";
import { forEachHeaderLine, headerLines } from "./header_lines.ts";

/** Sends raw request bytes to a Deno.serve handler and returns what the handler computed. */
async function served<T>(head: string, handler: (req: Request) => T): Promise<T> {
  const result = Promise.withResolvers<T>();
  const abort = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: abort.signal, onListen() {} },
    (req) => {
      result.resolve(handler(req));
      return new Response("ok");
    },
  );
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  await conn.write(new TextEncoder().encode(`${head}Connection: close\r\n\r\n`));
  await conn.readable.pipeTo(new WritableStream());
  abort.abort();
  await server.finished;
  return await result.promise;
}

Deno.test("headerLines() keeps each line of a request Deno.serve received", async () => {
  const lines = await served(
    "GET / HTTP/1.1\r\nHost: x\r\nX-Multi: 1\r\nx-multi: 2\r\nAccept: a, b\r\n",
    (req) => headerLines(req.headers),
  );
  assert.deepEqual(lines?.get("x-multi"), ["1", "2"]);
  assert.deepEqual(lines?.get("accept"), ["a, b"]);
});

Deno.test("forEachHeaderLine() splits only values that are still the received lines", async () => {
  const seen = await served(
    "GET / HTTP/1.1\r\nHost: x\r\nX-Multi: 1\r\nX-Multi: 2\r\nX-Changed: 1\r\nX-Changed: 2\r\nAccept: a, b\r\n",
    (req) => {
      const current = new Headers();
      req.headers.forEach((value, name) => current.append(name, value));
      current.set("x-changed", "3, 4");
      current.set("x-new", "5, 6");
      const out: [string, string][] = [];
      forEachHeaderLine(current, req.headers, (name, value) => out.push([name, value]));
      return out;
    },
  );
  assert.deepEqual(seen, [
    ["accept", "a, b"],
    ["connection", "close"],
    ["host", "x"],
    ["x-changed", "3, 4"],
    ["x-multi", "1"],
    ["x-multi", "2"],
    ["x-new", "5, 6"],
  ]);
});

Deno.test("headerLines() reads the lines of a Headers built with append()", () => {
  const headers = new Headers();
  headers.append("Date", "Mon, 07 Dec 2026 02:46:25 GMT");
  headers.append("Vary", "a");
  headers.append("vary", "b");
  const lines = headerLines(headers);
  assert.deepEqual(lines?.get("date"), ["Mon, 07 Dec 2026 02:46:25 GMT"]);
  assert.deepEqual(lines?.get("vary"), ["a", "b"]);
});
