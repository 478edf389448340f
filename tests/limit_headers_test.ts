/** End to end: the X-RateLimit-* headers Tyk adds to responses, in both rate_limit_response_headers modes. */
import assert from "node:assert/strict";
import { keylessApi, startGateway, tokenApi, withPlugins } from "./support/gateway.ts";
import { createKey, keySession } from "./support/keys.ts";

const NAMES = ["x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"];

/** An upstream that sends its own X-RateLimit-* headers, which the gateway must replace. */
function startLimitingUpstream() {
  const abort = new AbortController();
  const ready = Promise.withResolvers<number>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    signal: abort.signal,
    onListen: (addr) => ready.resolve(addr.port),
  }, () =>
    new Response("ok", {
      headers: { "X-RateLimit-Limit": "999", "X-RateLimit-Remaining": "998", "X-RateLimit-Reset": "1" },
    }));
  return {
    url: ready.promise.then((port) => `http://127.0.0.1:${port}`),
    stop: async () => {
      abort.abort();
      await server.finished;
    },
  };
}

/** The X-RateLimit-* header lines of a response, each value as received (several joined by `, `). */
async function limitHeaders(url: string, key?: string): Promise<[number, string[]]> {
  const res = await fetch(url, { headers: key ? { authorization: key } : {} });
  await res.body?.cancel();
  return [res.status, NAMES.map((name) => res.headers.get(name) ?? "-")];
}

const PRE_ANSWERS = `var answer = new TykJS.TykMiddleware.NewMiddleware({});
answer.NewProcessRequest(function(request, session, config) {
  request.ReturnOverrides.ResponseCode = 200;
  request.ReturnOverrides.ResponseError = "from the plugin";
  return answer.ReturnData(request, {});
});`;

Deno.test("X-RateLimit-* show the key's quota by default, 0 keyless and on a pre hook's answer", async () => {
  const upstream = startLimitingUpstream();
  const target = await upstream.url;
  const gw = await startGateway({
    conf: { enable_jsvm: true },
    apps: {
      "t.json": tokenApi("tok", "/tok/", target),
      "k.json": keylessApi("open", "/open/", target),
      "j.json": withPlugins(keylessApi("js", "/js/", target), {
        pre: [{ name: "answer", path: "answer.js" }],
      }),
    },
    files: { "answer.js": PRE_ANSWERS },
  });
  try {
    const before = Math.floor(Date.now() / 1000);
    const key = await createKey(gw, keySession(["tok"], { quota_max: 2, quota_renewal_rate: 3600 }));
    const [status, first] = await limitHeaders(`${gw.url}/tok/`, key);
    assert.equal(status, 200);
    assert.deepEqual(first.slice(0, 2), ["2", "1"]);
    assert.ok(Math.abs(Number(first[2]) - (before + 3600)) <= 2, `reset ${first[2]}`);
    assert.deepEqual((await limitHeaders(`${gw.url}/tok/`, key))[1].slice(0, 2), ["2", "0"]);
    assert.deepEqual(await limitHeaders(`${gw.url}/tok/`, key), [403, ["-", "-", "-"]]);

    const unlimited = await createKey(gw, keySession(["tok"]));
    assert.deepEqual((await limitHeaders(`${gw.url}/tok/`, unlimited))[1].slice(0, 1), ["-1"]);
    assert.deepEqual(await limitHeaders(`${gw.url}/open/`), [200, ["0", "0", "0"]]);
    assert.deepEqual(await limitHeaders(`${gw.url}/js/`), [200, ["0", "0", "0"]]);
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

Deno.test("rate_limit_response_headers rate_limits: the limiter's figures, on the 429 too", async () => {
  const upstream = startLimitingUpstream();
  const target = await upstream.url;
  const gw = await startGateway({
    conf: { rate_limit_response_headers: "rate_limits", enable_redis_rolling_limiter: true },
    apps: { "t.json": tokenApi("tok", "/tok/", target) },
  });
  try {
    const key = await createKey(gw, keySession(["tok"], { rate: 2, per: 60 }));
    const before = Math.floor(Date.now() / 1000);
    const [, first] = await limitHeaders(`${gw.url}/tok/`, key);
    assert.deepEqual(first.slice(0, 2), ["2", "1"]);
    assert.ok(Number(first[2]) >= before && Number(first[2]) <= before + 61, `reset ${first[2]}`);
    assert.deepEqual((await limitHeaders(`${gw.url}/tok/`, key))[1].slice(0, 2), ["2", "0"]);
    const [status, blocked] = await limitHeaders(`${gw.url}/tok/`, key);
    assert.equal(status, 429);
    assert.deepEqual(blocked.slice(0, 2), ["2", "0"]);
    assert.ok(Number(blocked[2]) >= before + 59 && Number(blocked[2]) <= before + 61, `reset ${blocked[2]}`);
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});
