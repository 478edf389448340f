import assert from "node:assert/strict";
import { type RawResponse, startRawHttpServer } from "../../tests/support/raw_http_server.ts";
import { freePort } from "../../tests/support/free_port.ts";
import { parseOrigin, readAll, UpstreamClient, UpstreamError, type UpstreamRequest } from "./client.ts";
import { DeadlineQueue } from "./deadlines.ts";

const DECODER = new TextDecoder();

function get(target: string, extra: Partial<UpstreamRequest> = {}): UpstreamRequest {
  return { method: "GET", target, headers: new Headers(), body: null, ...extra };
}

async function text(res: { body: Parameters<typeof readAll>[0] }): Promise<string> {
  return DECODER.decode(await readAll(res.body));
}

/** A raw server answering by path, and a client to it, both closed by the caller's `using`. */
async function setup(routes: Record<string, RawResponse> = {}, options: { maxIdlePerHost?: number } = {}) {
  const server = await startRawHttpServer({
    respond: (req) => routes[req.target.split("?")[0]] ?? { body: "ok" },
  });
  const client = new UpstreamClient(options);
  return {
    server,
    client,
    origin: parseOrigin(server.url),
    async [Symbol.asyncDispose]() {
      client.close();
      await server.close();
    },
  };
}

Deno.test("UpstreamClient.send() writes header names canonical or as recorded, the Host it is given, and frames bodies", async () => {
  await using t = await setup();
  const headers = new Headers([["x-api-key", "k"], ["x-certificateouid", "7"], ["content-length", "99"]]);
  const res = await t.client.send(t.origin, {
    method: "GET",
    target: "/a?b=1",
    headers,
    headerCase: new Map([["x-certificateouid", "X-CertificateOuid"]]),
    body: new TextEncoder().encode("GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"),
    host: "example.test",
  });
  assert.equal(await text(res), "ok");
  assert.deepEqual(t.server.errors, []);
  const [req] = t.server.requests;
  assert.deepEqual(req.headers, [
    ["Host", "example.test"],
    ["X-Api-Key", "k"],
    ["X-CertificateOuid", "7"],
    ["Content-Length", "35"],
  ]);
  assert.equal(req.text(), "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n");
  assert.equal(t.server.requests.length, 1, "the body never became a request");
});

Deno.test("UpstreamClient.send() streams a body of unknown length chunked and one of known length as is", async () => {
  await using t = await setup();
  const stream = (parts: string[]) =>
    new ReadableStream<Uint8Array>({
      pull(c) {
        const next = parts.shift();
        if (next === undefined) c.close();
        else c.enqueue(new TextEncoder().encode(next));
      },
    });
  await text(
    await t.client.send(t.origin, { ...get("/chunked"), method: "POST", body: stream(["ab", "cd"]) }),
  );
  const known = new Headers({ "content-length": "4" });
  await text(
    await t.client.send(t.origin, {
      ...get("/known"),
      method: "PUT",
      headers: known,
      body: stream(["ab", "cd"]),
    }),
  );
  assert.deepEqual(t.server.errors, []);
  const [chunked, length] = t.server.requests;
  assert.equal(chunked.framing, "chunked");
  assert.equal(chunked.text(), "abcd");
  assert.equal(length.framing, "content-length");
  assert.equal(length.text(), "abcd");
  assert.equal(length.connection, chunked.connection, "both went over one kept-alive connection");
});

Deno.test("UpstreamClient.send() reads 1xx, 204, 304 and HEAD answers without a body and keeps the connection in step", async () => {
  await using t = await setup({
    "/interim": { interim: [{ status: 100 }, { status: 103, headers: [["Link", "</a>"]] }], body: "final" },
    "/no-content": { status: 204 },
    "/not-modified": { status: 304, headers: [["Content-Length", "50"], ["ETag", '"x"']] },
    "/head": { body: "not sent for HEAD" },
  });
  const interim = await t.client.send(t.origin, get("/interim"));
  assert.equal(interim.status, 200);
  assert.equal(await text(interim), "final");
  const noContent = await t.client.send(t.origin, get("/no-content"));
  assert.equal(noContent.status, 204);
  assert.equal(noContent.body, null);
  const notModified = await t.client.send(t.origin, get("/not-modified"));
  assert.equal(notModified.status, 304);
  assert.equal(notModified.body, null);
  const head = await t.client.send(t.origin, { ...get("/head"), method: "HEAD" });
  assert.equal(head.body, null);
  assert.deepEqual(head.headers, [["Content-Length", "17"]]);
  assert.equal(await text(await t.client.send(t.origin, get("/after"))), "ok");
  assert.deepEqual(t.server.errors, []);
  assert.equal(
    new Set(t.server.requests.map((r) => r.connection)).size,
    1,
    "one connection carried all five",
  );
});

Deno.test("UpstreamClient.send() de-chunks a chunked answer and reads one that ends at close", async () => {
  const big = "x".repeat(100_000);
  await using t = await setup({
    "/chunked": { chunks: ["abc", big, "def"], headers: [["X-Kind", "chunked"]] },
    "/until-close": { noLength: true, body: big },
  });
  const chunked = await t.client.send(t.origin, get("/chunked"));
  assert.deepEqual(chunked.headers, [["X-Kind", "chunked"]], "Transfer-Encoding is not passed on");
  assert.equal(await text(chunked), `abc${big}def`);
  assert.equal(await text(await t.client.send(t.origin, get("/until-close"))), big);
  assert.equal(await text(await t.client.send(t.origin, get("/after"))), "ok");
  const [first, second, third] = t.server.requests;
  assert.equal(second.connection, first.connection);
  assert.notEqual(third.connection, second.connection, "a body that ended at close ended the connection");
});

Deno.test("UpstreamClient.send() never reuses a connection whose answer was not read to its end", async () => {
  await using t = await setup({ "/big": { body: "y".repeat(1_000_000) } });
  const big = await t.client.send(t.origin, get("/big"));
  const reader = (big.body as ReadableStream<Uint8Array>).getReader();
  await reader.read();
  await reader.cancel();
  assert.equal(await text(await t.client.send(t.origin, get("/next"))), "ok");
  const [first, next] = t.server.requests;
  assert.notEqual(next.connection, first.connection);
  assert.deepEqual(t.server.errors, []);
});

Deno.test("UpstreamClient.send() drops a connection that sent bytes nobody asked for", async () => {
  await using t = await setup({
    // a response followed by a stray second one: whoever reads next on this connection would get it
    "/poisoned": {
      raw: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged",
    },
  });
  assert.equal(await text(await t.client.send(t.origin, get("/poisoned"))), "ok");
  assert.equal(await text(await t.client.send(t.origin, get("/next"))), "ok");
  const [poisoned, next] = t.server.requests;
  assert.notEqual(next.connection, poisoned.connection);
});

Deno.test("UpstreamClient.send() notices an upstream that closed an idle connection and sends on a new one", async () => {
  await using t = await setup({
    "/then-close": { raw: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", close: true },
  });
  assert.equal(await text(await t.client.send(t.origin, get("/then-close"))), "ok");
  await t.server.waitUntil(() => t.server.connections[0].closed);
  // a POST is not resent after a failure on a reused connection, so only noticing the close saves it
  assert.equal(await text(await t.client.send(t.origin, { ...get("/next"), method: "POST" })), "ok");
  assert.equal(t.server.requests[1].connection, 1);
});

Deno.test("UpstreamClient.send() errors the body stream when the upstream closes mid-body", async () => {
  await using t = await setup({ "/cut": { body: "z".repeat(200_000), truncateAfter: 1000 } });
  const res = await t.client.send(t.origin, get("/cut"));
  await assert.rejects(readAll(res.body), /short of the body/);
  assert.equal(await text(await t.client.send(t.origin, get("/next"))), "ok");
  assert.notEqual(t.server.requests[1].connection, t.server.requests[0].connection);
});

Deno.test("UpstreamClient.send() keeps at most maxIdlePerHost idle connections and closes the rest", async () => {
  const waiting: (() => void)[] = [];
  const both = Promise.withResolvers<void>();
  const server = await startRawHttpServer({
    respond: (req) => {
      if (req.target !== "/held") return { body: "ok" };
      return new Promise((resolve) => {
        waiting.push(() => resolve({ body: "held" }));
        if (waiting.length === 2) both.resolve();
      });
    },
  });
  const client = new UpstreamClient({ maxIdlePerHost: 1 });
  try {
    const origin = parseOrigin(server.url);
    const held = [client.send(origin, get("/held")), client.send(origin, get("/held"))];
    await both.promise;
    for (const release of waiting) release();
    for (const res of await Promise.all(held)) assert.equal(await text(res), "held");
    await server.waitUntil(() => server.connections.filter((c) => c.closed).length === 1);
    assert.equal(await text(await client.send(origin, get("/a"))), "ok");
    assert.equal(await text(await client.send(origin, get("/b"))), "ok");
    const kept = server.connections.find((c) => !c.closed)!;
    assert.deepEqual(server.requests.slice(2).map((r) => r.connection), [kept.id, kept.id]);
  } finally {
    client.close();
    await server.close();
  }
});

Deno.test("UpstreamClient with keepAlive false asks for Connection: close and never pools", async () => {
  const server = await startRawHttpServer();
  const client = new UpstreamClient({ keepAlive: false });
  try {
    const origin = parseOrigin(server.url);
    const headers = new Headers({ connection: "keep-alive" });
    for (const target of ["/1", "/2"]) await text(await client.send(origin, { ...get(target), headers }));
    assert.deepEqual(server.requests.map((r) => r.header("connection")), ["close", "close"]);
    assert.deepEqual(server.requests.map((r) => r.connection), [0, 1]);
  } finally {
    client.close();
    await server.close();
  }
});

Deno.test("UpstreamClient.send() fails with timeout when no head arrives by the deadline, and aborted when signalled", async () => {
  const never = Promise.withResolvers<RawResponse>();
  await using t = await setup();
  const server = await startRawHttpServer({ respond: () => never.promise });
  try {
    const origin = parseOrigin(server.url);
    const deadline = new DeadlineQueue(50);
    const timedOut = await t.client.send(origin, { ...get("/slow"), deadline }).catch((err) => err);
    assert.ok(timedOut instanceof UpstreamError);
    assert.equal(timedOut.kind, "timeout");
    const abort = new AbortController();
    const pending = t.client.send(origin, { ...get("/slow"), signal: abort.signal }).catch((err) => err);
    await server.waitUntil(() => server.requests.length === 2);
    abort.abort();
    const aborted = await pending;
    assert.equal(aborted.kind, "aborted");
    await server.waitUntil(() => server.connections.every((c) => c.closed));
    deadline.clear();
  } finally {
    never.resolve({ body: "late" });
    await server.close();
  }
});

Deno.test("UpstreamClient.send() reads a lazy signal only for an answer that takes longer than WATCH_CLIENT_AFTER_MS", async () => {
  const never = Promise.withResolvers<RawResponse>();
  const server = await startRawHttpServer({
    respond: (req) => req.target === "/slow" ? never.promise : { body: "ok" },
  });
  const client = new UpstreamClient();
  try {
    const origin = parseOrigin(server.url);
    const abort = new AbortController();
    const watched = Promise.withResolvers<void>();
    let reads = 0;
    const signal = () => {
      reads++;
      watched.resolve();
      return abort.signal;
    };
    for (let i = 0; i < 20; i++) await text(await client.send(origin, { ...get("/fast"), signal }));
    assert.equal(reads, 0, "quick answers never read the signal");
    const pending = client.send(origin, { ...get("/slow"), signal }).catch((err) => err);
    await watched.promise;
    abort.abort();
    assert.equal((await pending).kind, "aborted");
  } finally {
    never.resolve({ body: "late" });
    client.close();
    await server.close();
  }
});

Deno.test("UpstreamClient.send() reports a refused connection and an unknown host by kind", async () => {
  const client = new UpstreamClient();
  const port = freePort();
  const refused = await client.send(parseOrigin(`http://127.0.0.1:${port}`), get("/")).catch((err) => err);
  assert.equal(refused.kind, "connect");
  const unknown = await client.send(parseOrigin("http://no-such-host.invalid"), get("/")).catch((err) => err);
  assert.equal(unknown.kind, "dns");
  client.close();
});

Deno.test("UpstreamClient.send() refuses a method that is not an HTTP token", async () => {
  await using t = await setup();
  await assert.rejects(t.client.send(t.origin, { ...get("/"), method: "GET / HTTP/1.1\r\nX:" }), TypeError);
  assert.equal(t.server.requests.length, 0);
});
