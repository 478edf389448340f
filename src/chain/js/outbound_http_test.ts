import assert from "node:assert/strict";
import { type RawResponse, startRawHttpServer } from "../../../tests/support/raw_http_server.ts";
import { UpstreamClient } from "../../upstream/client.ts";
import { type OutboundRequest, sendOutbound } from "./outbound_http.ts";

const ENCODER = new TextEncoder();
const DECODER = new TextDecoder();

async function gzip(text: string): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function request(extra: Partial<OutboundRequest> = {}): OutboundRequest {
  return {
    method: "GET",
    headers: new Headers(),
    body: new Uint8Array(0),
    signal: AbortSignal.timeout(10_000),
    ...extra,
  };
}

async function setup(routes: Record<string, (port: number) => RawResponse>) {
  let port = 0;
  const server = await startRawHttpServer({
    respond: (req) => routes[req.target]?.(port) ?? { body: `${req.method} ${req.target}` },
  });
  port = server.port;
  const client = new UpstreamClient();
  return {
    server,
    client,
    async [Symbol.asyncDispose]() {
      client.close();
      await server.close();
    },
  };
}

Deno.test("sendOutbound() sends a GET body framed, Go's User-Agent, gzip asked for, and closes the connection", async () => {
  await using t = await setup({});
  const res = await sendOutbound(
    t.client,
    `${t.server.url}/get?x=1`,
    request({ body: ENCODER.encode("abc") }),
  );
  assert.equal(DECODER.decode(res.body), "GET /get?x=1");
  const [sent] = t.server.requests;
  assert.equal(sent.header("content-length"), "3");
  assert.equal(sent.text(), "abc");
  assert.equal(sent.header("user-agent"), "Go-http-client/1.1");
  assert.equal(sent.header("accept-encoding"), "gzip");
  assert.equal(sent.header("connection"), "close");
  assert.deepEqual(t.server.errors, []);
});

Deno.test("sendOutbound() undoes gzip it asked for, and passes it through when the plugin asked itself", async () => {
  const packed = await gzip("unpacked text");
  await using t = await setup({
    "/gz": () => ({ headers: [["Content-Encoding", "gzip"], ["X-Other", "1"]], body: packed }),
  });
  const decoded = await sendOutbound(t.client, `${t.server.url}/gz`, request());
  assert.equal(DECODER.decode(decoded.body), "unpacked text");
  assert.deepEqual(
    decoded.headers,
    [["X-Other", "1"], ["Connection", "close"]],
    "no Content-Encoding or -Length",
  );
  const raw = await sendOutbound(
    t.client,
    `${t.server.url}/gz`,
    request({
      headers: new Headers({ "accept-encoding": "gzip" }),
    }),
  );
  assert.deepEqual(raw.body, packed);
});

Deno.test("sendOutbound() follows redirects with Go's method, body and header rules", async () => {
  await using t = await setup({
    "/302": () => ({ status: 302, headers: [["Location", "/landed"]] }),
    "/307": () => ({ status: 307, headers: [["Location", "/landed"]] }),
    "/away": (port) => ({ status: 301, headers: [["Location", `http://localhost:${port}/landed`]] }),
  });
  const body = ENCODER.encode("payload");
  const headers = new Headers({ authorization: "secret", "x-kept": "1" });
  assert.equal(
    DECODER.decode(
      (await sendOutbound(t.client, `${t.server.url}/302`, request({ method: "POST", body, headers }))).body,
    ),
    "GET /landed",
  );
  assert.equal(
    DECODER.decode(
      (await sendOutbound(t.client, `${t.server.url}/307`, request({ method: "POST", body, headers }))).body,
    ),
    "POST /landed",
  );
  await sendOutbound(t.client, `${t.server.url}/away`, request({ headers }));
  const [, after302, , after307, , afterAway] = t.server.requests;
  assert.equal(after302.text(), "");
  assert.equal(after302.header("authorization"), "secret", "same host: credentials kept");
  assert.equal(after307.text(), "payload");
  assert.equal(afterAway.header("host"), `localhost:${t.server.port}`);
  assert.equal(afterAway.header("authorization"), undefined, "another host: credentials dropped");
  assert.equal(afterAway.header("x-kept"), "1");
});

Deno.test("sendOutbound() stops after 10 redirects and refuses a redirect to another scheme", async () => {
  await using t = await setup({
    "/loop": () => ({ status: 302, headers: [["Location", "/loop"]] }),
    "/file": () => ({ status: 302, headers: [["Location", "file:///etc/passwd"]] }),
  });
  await assert.rejects(
    sendOutbound(t.client, `${t.server.url}/loop`, request()),
    /stopped after 10 redirects/,
  );
  assert.equal(t.server.requests.length, 10);
  await assert.rejects(
    sendOutbound(t.client, `${t.server.url}/file`, request()),
    /unsupported protocol scheme/,
  );
});
