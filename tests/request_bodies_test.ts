/**
 * Request bodies (issue: large uploads): a body no step reads streams to the upstream byte for byte, a body
 * over `max_request_body_size` gets Tyk's 413, and the bodies JS hooks must hold are bounded one by one
 * (413) and all together (503).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { keylessApi, startGateway, type TestGateway } from "./support/gateway.ts";
import { startUpstream } from "./support/upstream.ts";

const encoder = new TextEncoder();
const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;

/** Byte `i` of every test body: all 256 values, not valid UTF-8, no repeating chunk. */
function patterned(from: number, length: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = ((from + i) * 131 + ((from + i) >> 16)) & 0xff;
  return out;
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

const PASS = `var pass = new TykJS.TykMiddleware.NewMiddleware({});
pass.NewProcessRequest(function (request, session, spec) { return pass.ReturnData(request, {}); });
`;

function jsApi(apiId: string, listenPath: string, target: string) {
  return {
    ...keylessApi(apiId, listenPath, target),
    // goja's driver: otto reads binary bodies byte by byte, slower than these tests need
    custom_middleware: { driver: "javascript", pre: [{ name: "pass", path: "plugins/pass.js" }] },
  };
}

/** Sends a request head and the first `firstBytes` of `body` on a raw connection; `rest()` sends the rest. */
async function partialUpload(gw: TestGateway, path: string, body: Uint8Array, firstBytes: number) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: gw.port });
  const writer = conn.writable.getWriter(); // writes every byte, where conn.write() may write a part
  await writer.write(
    encoder.encode(
      `POST ${path} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n`,
    ),
  );
  await writer.write(body.subarray(0, firstBytes));
  return {
    /** Sends the rest and reads the whole response. */
    async rest(): Promise<{ status: number; body: string }> {
      await writer.write(body.subarray(firstBytes));
      writer.releaseLock();
      const text = await new Response(conn.readable).text(); // until the close the request asked for
      return { status: Number(text.slice(9, 12)), body: text.slice(text.indexOf("\r\n\r\n") + 4) };
    },
  };
}

/** Settles as `promise` does, or rejects with `message` after `ms`. */
function within<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => timer = setTimeout(() => reject(new Error(message)), ms));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

Deno.test("a body no hook reads streams through a keyless API byte for byte, chunked or with a length", async () => {
  // an upstream that says when the first bytes of a body arrived
  const firstBytes = new Map<string, PromiseWithResolvers<void>>();
  const abort = new AbortController();
  const ready = Promise.withResolvers<number>();
  const upstream = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    signal: abort.signal,
    onListen: (a) => ready.resolve(a.port),
  }, async (req) => {
    const seen = firstBytes.get(new URL(req.url).pathname)!;
    const hash = createHash("sha256");
    let length = 0;
    for await (const chunk of req.body!) {
      seen.resolve();
      hash.update(chunk);
      length += chunk.length;
    }
    return Response.json({ length, sha256: hash.digest("hex") });
  });
  const gw = await startGateway({
    apps: { "api.json": keylessApi("api", "/api/", `http://127.0.0.1:${await ready.promise}`) },
  });
  try {
    const size = 32 * MiB;
    const body = patterned(0, size);
    const expected = { length: size, sha256: sha256(body) };

    // chunked: the client holds back everything after the first chunk until the upstream saw it
    firstBytes.set("/chunked", Promise.withResolvers());
    let offset = 0;
    const res = await fetch(`${gw.url}/api/chunked`, {
      method: "POST",
      body: new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (offset === CHUNK) {
            await within(
              firstBytes.get("/chunked")!.promise,
              10_000,
              "The upstream saw nothing of the body before the client sent all of it: the gateway buffers",
            );
          }
          if (offset >= size) return controller.close();
          controller.enqueue(body.slice(offset, offset + CHUNK));
          offset += CHUNK;
        },
      }),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), expected);

    // with a Content-Length: the same, on a raw connection
    firstBytes.set("/sized", Promise.withResolvers());
    const upload = await partialUpload(gw, "/api/sized", body, MiB);
    await within(
      firstBytes.get("/sized")!.promise,
      10_000,
      "The upstream saw nothing of a sized body before the client sent all of it: the gateway buffers",
    );
    const sized = await upload.rest();
    assert.equal(sized.status, 200);
    assert.deepEqual(JSON.parse(sized.body), expected);
  } finally {
    await gw.stop();
    abort.abort();
    await upstream.finished;
  }
});

Deno.test("max_request_body_size: Tyk's plain 413 by Content-Length before the upstream sees it; a longer chunked body is cut with 413", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({
    conf: { http_server_options: { max_request_body_size: 1024 } },
    apps: { "api.json": keylessApi("api", "/api/", upstream.url) },
  });
  try {
    const ok = await fetch(`${gw.url}/api/count-body`, { method: "POST", body: patterned(0, 1024) });
    assert.equal(ok.status, 200);
    assert.equal((await ok.json()).bodyLength, 1024);
    const seen = upstream.count();

    const tooLarge = await fetch(`${gw.url}/api/count-body`, { method: "POST", body: patterned(0, 1025) });
    assert.equal(tooLarge.status, 413);
    assert.equal(tooLarge.headers.get("content-type"), "text/plain; charset=utf-8");
    assert.equal(tooLarge.headers.get("x-content-type-options"), "nosniff");
    assert.equal(await tooLarge.text(), "Request Entity Too Large\n");
    assert.equal(upstream.count(), seen, "the upstream never saw it");

    const chunked = (bytes: number) => {
      let sent = 0;
      // made as it is read, so fetch cannot know its length: sent chunked, without Content-Length
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent >= bytes) return controller.close();
          controller.enqueue(patterned(sent, Math.min(1000, bytes - sent)));
          sent += 1000;
        },
      });
      return fetch(`${gw.url}/api/count-body`, { method: "POST", body });
    };
    const small = await chunked(1000);
    assert.equal(small.status, 200);
    assert.equal((await small.json()).bodyLength, 1000);
    const long = await chunked(200_000);
    assert.equal(long.status, 413);
    assert.equal(await long.text(), "Request Entity Too Large\n");
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

Deno.test("a JS API answers 413 for a body over max_buffered_body_size and passes one within it byte for byte", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({
    conf: { enable_jsvm: true, http_server_options: { max_buffered_body_size: MiB } },
    files: { "plugins/pass.js": PASS },
    apps: {
      "js.json": jsApi("js", "/js/", upstream.url),
      "plain.json": keylessApi("plain", "/plain/", upstream.url),
    },
  });
  try {
    const over = await fetch(`${gw.url}/js/count-body`, { method: "POST", body: patterned(0, MiB + 1) });
    assert.equal(over.status, 413);
    assert.equal(await over.text(), "Request Entity Too Large\n");

    const body = patterned(7, MiB);
    const within = await fetch(`${gw.url}/js/count-body`, { method: "POST", body });
    assert.equal(within.status, 200);
    assert.deepEqual(await within.json(), { bodyLength: MiB, sha256: sha256(body) });

    // a body no hook reads is not held, so the buffered limit does not apply to it
    const streamed = patterned(0, 4 * MiB);
    const plain = await fetch(`${gw.url}/plain/count-body`, { method: "POST", body: streamed });
    assert.equal(plain.status, 200);
    assert.deepEqual(await plain.json(), { bodyLength: 4 * MiB, sha256: sha256(streamed) });
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

Deno.test("bodies held at once across requests stay within max_buffered_total_size: 503 past it, served again after", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({
    conf: {
      enable_jsvm: true,
      http_server_options: { max_buffered_body_size: 2 * MiB, max_buffered_total_size: 3 * MiB },
    },
    files: { "plugins/pass.js": PASS },
    apps: { "js.json": jsApi("js", "/js/", upstream.url) },
  });
  try {
    // a slow upload holds 2 MiB of the budget from its head on
    const slowBody = patterned(1, 2 * MiB);
    const slow = await partialUpload(gw, "/js/count-body", slowBody, CHUNK);
    const other = patterned(2, 2 * MiB);
    const post = () => fetch(`${gw.url}/js/count-body`, { method: "POST", body: other });
    const deadline = performance.now() + 10_000;
    let refused: Response | null = null;
    while (!refused && performance.now() < deadline) {
      const res = await post(); // may pass while the slow upload's head is still on its way
      if (res.status === 503) refused = res;
      else await res.body?.cancel();
    }
    assert.ok(refused, "no request was refused while the budget was held");
    assert.deepEqual(await refused.json(), {
      error: "Too many request bodies are being buffered, please try again later",
    });

    const done = await slow.rest();
    assert.equal(done.status, 200);
    assert.deepEqual(JSON.parse(done.body), { bodyLength: 2 * MiB, sha256: sha256(slowBody) });
    const again = await post();
    assert.equal(again.status, 200);
    assert.deepEqual(await again.json(), { bodyLength: 2 * MiB, sha256: sha256(other) });
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

Deno.test("global_size_limit and size_limits: Tyk's 400 over the stated length, 411 without one, the rest proxied", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({
    apps: {
      "api.json": keylessApi("api", "/api/", upstream.url, {
        version_data: {
          not_versioned: true,
          versions: {
            Default: {
              name: "Default",
              global_size_limit: 2048,
              extended_paths: { size_limits: [{ path: "/small", method: "POST", size_limit: 10 }] },
            },
          },
        },
      }),
    },
  });
  try {
    const send = async (path: string, body: BodyInit) => {
      const res = await fetch(`${gw.url}/api${path}`, { method: "POST", body });
      return `${res.status} ${res.status === 200 ? (await res.json()).bodyLength : (await res.json()).error}`;
    };
    assert.equal(await send("/small/count-body", "0123456789"), "200 10");
    assert.equal(await send("/small/count-body", "0123456789!"), "400 Request is too large");
    assert.equal(await send("/other/count-body", patterned(0, 2048)), "200 2048");
    assert.equal(await send("/other/count-body", patterned(0, 2049)), "400 Request is too large");
    const chunked = new ReadableStream({
      pull(controller) {
        controller.enqueue(encoder.encode("made as it is read"));
        controller.close();
      },
    });
    assert.equal(await send("/other/count-body", chunked), "411 Content length is required for this request");
    assert.equal(upstream.count(), 2, "only the requests within the limits reached the upstream");
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});
