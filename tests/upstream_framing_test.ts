/**
 * End to end: the bytes the gateway sends upstream, as a strict HTTP/1.1 server receives them. A body a plugin
 * adds must be framed, or the upstream reads it as the next request on the pooled connection.
 */
import assert from "node:assert/strict";
import { keylessApi, startGateway } from "./support/gateway.ts";
import { statusOf } from "./support/http.ts";
import { startRawHttpServer } from "./support/raw_http_server.ts";

const JSVM = { enable_jsvm: true, jsvm_timeout: 2 };

/** A body shaped like a request: if it were not framed, a strict upstream would run it. */
const SMUGGLED = "GET /smuggled HTTP/1.1\r\nHost: internal\r\n\r\n";

const SET_BODY = `var setBody = new TykJS.TykMiddleware.NewMiddleware({});
setBody.NewProcessRequest(function (request, session, spec) {
  if (request.Headers["X-Set-Body"]) request.Body = ${JSON.stringify(SMUGGLED)};
  return setBody.ReturnData(request, {});
});
`;

Deno.test("a body a pre plugin sets on a bodiless request is framed, and the pooled connection stays in step", async () => {
  await using upstream = await startRawHttpServer({ respond: (req) => ({ body: `seen ${req.target}` }) });
  const gw = await startGateway({
    conf: JSVM,
    files: { "plugins/setBody.js": SET_BODY },
    apps: {
      "a.json": {
        ...keylessApi("frame", "/frame/", upstream.url),
        custom_middleware: { driver: "otto", pre: [{ name: "setBody", path: "plugins/setBody.js" }] },
      },
    },
  });
  try {
    for (const method of ["GET", "HEAD", "DELETE", "OPTIONS"]) {
      const before = upstream.requests.length;
      const first = await fetch(`${gw.url}/frame/one`, { method, headers: { "x-set-body": "1" } });
      assert.equal(first.status, 200, `${method} with a plugin body`);
      if (method !== "HEAD") assert.equal(await first.text(), "seen /one");
      else await first.body?.cancel();
      const second = await fetch(`${gw.url}/frame/two`, { method: "GET" });
      assert.equal(await second.text(), "seen /two", `the request after a ${method} with a body`);

      assert.deepEqual(upstream.errors, [], "the upstream refused nothing");
      const [one, two] = upstream.requests.slice(before);
      assert.equal(upstream.requests.length, before + 2, "exactly two requests arrived");
      assert.equal(one.method, method);
      assert.equal(one.framing, "content-length");
      assert.equal(one.header("content-length"), String(SMUGGLED.length));
      assert.equal(one.text(), SMUGGLED);
      assert.equal(two.target, "/two");
      assert.equal(two.framing, "none");
      assert.equal(two.connection, one.connection, "both requests used the same pooled connection");
    }
    assert.ok(!upstream.requests.some((r) => r.target === "/smuggled"), "the body never ran as a request");
  } finally {
    await gw.stop();
  }
});

Deno.test("the proxy frames every body it forwards: client lengths, chunked uploads, empty bodies", async () => {
  await using upstream = await startRawHttpServer();
  const gw = await startGateway({ apps: { "a.json": keylessApi("plain", "/plain/", upstream.url) } });
  try {
    assert.equal(await statusOf(fetch(`${gw.url}/plain/len`, { method: "POST", body: "hello" })), 200);
    const chunks = ["abc", "defgh"];
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        const next = chunks.shift();
        if (next === undefined) c.close();
        else c.enqueue(new TextEncoder().encode(next));
      },
    });
    assert.equal(await statusOf(fetch(`${gw.url}/plain/chunked`, { method: "PUT", body: stream })), 200);
    assert.equal(await statusOf(fetch(`${gw.url}/plain/empty`, { method: "POST", body: "" })), 200);
    assert.equal(await statusOf(fetch(`${gw.url}/plain/get`)), 200);

    assert.deepEqual(upstream.errors, []);
    const [len, chunked, empty, get] = upstream.requests;
    assert.equal(len.header("content-length"), "5");
    assert.equal(len.text(), "hello");
    assert.equal(chunked.text(), "abcdefgh");
    assert.ok(chunked.framing !== "none", "a streamed body is framed");
    // Go's client sends Content-Length: 0 on an empty POST, and nothing on a bodiless GET
    assert.equal(empty.header("content-length"), "0");
    assert.equal(get.framing, "none");
    assert.equal(get.header("content-length"), undefined);

    // Deno.serve hands a GET no body even when the client sent one: its Content-Length must not go upstream
    // alone, or the upstream would take the next request's bytes as this one's body
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: gw.port });
    await conn.write(new TextEncoder().encode(
      `GET /plain/get-body HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello`,
    ));
    const answer = await new Response(conn.readable).text();
    assert.match(answer, /^HTTP\/1\.1 200 /);
    assert.equal(await statusOf(fetch(`${gw.url}/plain/after`)), 200);
    assert.deepEqual(upstream.errors, []);
    const [getBody, after] = upstream.requests.slice(4);
    assert.equal(getBody.target, "/get-body");
    assert.equal(getBody.framing, "none");
    assert.equal(getBody.header("content-length"), undefined);
    assert.equal(after.target, "/after");
    assert.equal(after.connection, getBody.connection);
  } finally {
    await gw.stop();
  }
});

const HOST_CALLS = `var side = new TykJS.TykMiddleware.NewMiddleware({});
side.NewProcessRequest(function (request, session, spec) {
  var base = spec.config_data.upstream;
  var made = JSON.parse(TykMakeHttpRequest(JSON.stringify({
    Method: "POST", Domain: base, Resource: "/make", Body: ${JSON.stringify(SMUGGLED)}
  })));
  var empty = JSON.parse(TykMakeHttpRequest(JSON.stringify({ Method: "PUT", Domain: base, Resource: "/empty" })));
  var get = JSON.parse(TykMakeHttpRequest(JSON.stringify({ Method: "GET", Domain: base, Resource: "/get", Body: "abc" })));
  var batch = JSON.parse(TykBatchRequest(JSON.stringify({
    requests: [{ method: "PATCH", relative_url: base + "/batch", body: "abc", headers: {} }],
    suppress_parallel_execution: true
  })));
  request.SetHeaders["X-Side"] = made.Code + "," + empty.Code + "," + get.Code + "," + batch[0].code;
  return side.ReturnData(request, {});
});
`;

Deno.test("TykMakeHttpRequest and TykBatchRequest frame their bodies, a GET body included, as Go's client does", async () => {
  await using upstream = await startRawHttpServer({
    respond: (req) => ({ body: req.header("x-side") ?? "side" }),
  });
  const gw = await startGateway({
    conf: JSVM,
    files: { "plugins/side.js": HOST_CALLS },
    apps: {
      "a.json": {
        ...keylessApi("side", "/side/", upstream.url),
        config_data: { upstream: upstream.url },
        custom_middleware: { driver: "otto", pre: [{ name: "side", path: "plugins/side.js" }] },
      },
    },
  });
  try {
    assert.equal(await (await fetch(`${gw.url}/side/x`)).text(), "200,200,200,200");
    assert.deepEqual(upstream.errors, []);
    const byTarget = Object.fromEntries(upstream.requests.map((r) => [r.target, r]));
    assert.deepEqual(Object.keys(byTarget).sort(), ["/batch", "/empty", "/get", "/make", "/x"]);
    assert.equal(byTarget["/make"].header("content-length"), String(SMUGGLED.length));
    assert.equal(byTarget["/make"].text(), SMUGGLED);
    assert.equal(byTarget["/empty"].header("content-length"), "0");
    // Go's client sends a GET body with its length; fetch could not send it at all
    assert.equal(byTarget["/get"].header("content-length"), "3");
    assert.equal(byTarget["/get"].text(), "abc");
    assert.equal(byTarget["/batch"].method, "PATCH");
    assert.equal(byTarget["/batch"].header("content-length"), "3");
    assert.equal(byTarget["/batch"].text(), "abc");
  } finally {
    await gw.stop();
  }
});
