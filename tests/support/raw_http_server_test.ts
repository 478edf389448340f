import assert from "node:assert/strict";
import { startRawHttpServer } from "./raw_http_server.ts";

const ENCODER = new TextEncoder();

/** Writes `bytes` on a fresh connection and reads until the server closes it. */
async function exchange(port: number, bytes: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(ENCODER.encode(bytes));
  await conn.closeWrite();
  return await new Response(conn.readable).text();
}

Deno.test("startRawHttpServer() records each request's exact bytes, header case and body on a kept-alive connection", async () => {
  await using server = await startRawHttpServer({
    respond: (req) => ({ body: `#${req.index} ${req.target}` }),
  });
  const first = "POST /a?x=1 HTTP/1.1\r\nHost: h\r\nX-CertificateOuid: 7\r\nContent-Length: 5\r\n\r\nhello";
  const second = "PUT /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" +
    "3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n";
  const third = "GET /c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
  const answer = await exchange(server.port, first + second + third);

  assert.deepEqual(server.errors, []);
  assert.equal(server.connections.length, 1);
  const [a, b, c] = server.requests;
  assert.equal(new TextDecoder().decode(a.raw), first);
  assert.equal(new TextDecoder().decode(b.raw), second);
  assert.equal(new TextDecoder().decode(c.raw), third);
  assert.deepEqual(a.headers[1], ["X-CertificateOuid", "7"], "header names keep their case");
  assert.equal(a.header("x-certificateouid"), "7");
  assert.equal(a.framing, "content-length");
  assert.equal(a.text(), "hello");
  assert.equal(b.framing, "chunked");
  assert.equal(b.text(), "abcde");
  assert.deepEqual(b.trailers, [["X-Trailer", "t"]]);
  assert.equal(c.framing, "none");
  assert.equal(new TextDecoder().decode(server.connections[0].bytes()), first + second + third);
  assert.match(answer, /Content-Length: 9\r\n\r\n#0 \/a\?x=1HTTP\/1\.1 200 OK\r\n/);
  assert.match(answer, /Connection: close\r\n\r\n#2 \/c$/);
  await server.waitUntil(() => server.connections[0].closed);
});

Deno.test("startRawHttpServer() refuses ambiguous or malformed framing with 400 and records why", async () => {
  await using server = await startRawHttpServer();
  const cases: [string, RegExp][] = [
    [
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      /both/,
    ],
    ["POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", /differing/],
    ["POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\n\r\nabc", /invalid Content-Length/],
    ["POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", /unsupported/],
    [
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n",
      /not followed/,
    ],
    ["GET / HTTP/1.1\nHost: h\r\n\r\n", /bare LF/],
    ["GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n  folded\r\n\r\n", /folding/],
    ["GET / HTTP/1.1\r\nX-A : 1\r\nHost: h\r\n\r\n", /invalid header name/],
    ["GET / HTTP/1.1\r\n\r\n", /Host/],
    ["\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", /invalid request line/],
    // the bytes after an unframed body are read as the next request: exactly what a smuggled body does
    ["GET / HTTP/1.1\r\nHost: h\r\n\r\nhello world", /invalid request line "hello world"|inside a line/],
  ];
  for (const [bytes, why] of cases) {
    const answer = await exchange(server.port, bytes);
    assert.match(
      answer,
      /^(HTTP\/1\.1 200 OK\r\n[^]*)?HTTP\/1\.1 400 Bad Request\r\n/,
      JSON.stringify(bytes),
    );
    assert.match(server.errors.at(-1)!.message, why, JSON.stringify(bytes));
  }
  assert.equal(server.errors.length, cases.length);
});

Deno.test("startRawHttpServer() answers as told: chunked, interim, no length, truncated, raw", async () => {
  await using server = await startRawHttpServer({
    respond(req) {
      switch (req.target) {
        case "/chunked":
          return { headers: [["X-Mixed-Case", "1"]], chunks: ["ab", "", "cde"] };
        case "/interim":
          return { interim: [{ status: 100 }], status: 204 };
        case "/head":
          return { body: "not sent" };
        case "/until-close":
          return { noLength: true, body: "all of it" };
        case "/truncated":
          return { body: "0123456789", truncateAfter: 4 };
        default:
          return { raw: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nZ", close: true };
      }
    },
  });
  const chunked = await exchange(
    server.port,
    "GET /chunked HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
  );
  assert.equal(
    chunked,
    "HTTP/1.1 200 OK\r\nX-Mixed-Case: 1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
      "2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n",
  );
  const interim = await exchange(
    server.port,
    "GET /interim HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
  );
  assert.equal(interim, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
  const head = await exchange(server.port, "HEAD /head HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  assert.equal(head, "HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\n");
  const untilClose = await exchange(server.port, "GET /until-close HTTP/1.1\r\nHost: h\r\n\r\n");
  assert.equal(untilClose, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it");
  const truncated = await exchange(server.port, "GET /truncated HTTP/1.1\r\nHost: h\r\n\r\n");
  assert.equal(truncated, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\n0123");
  const raw = await exchange(server.port, "GET /raw HTTP/1.1\r\nHost: h\r\n\r\n");
  assert.equal(raw, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nZ");
  assert.deepEqual(server.errors, []);
});
