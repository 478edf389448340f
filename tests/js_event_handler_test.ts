/** End to end: JS event handlers (`eh_dynamic_handler`) on the event bus of a real gateway. */
import assert from "node:assert/strict";
import { base64Text } from "./support/base64.ts";
import { startGateway, tokenApi } from "./support/gateway.ts";
import { createKey, keySession, statuses } from "./support/keys.ts";
import { startRawHttpServer } from "./support/raw_http_server.ts";
import { startUpstream } from "./support/upstream.ts";

/** A handler in the style of Tyk's documentation that reports each event to `sink` with TykMakeHttpRequest. */
function reporter(sink: string): string {
  return `var count = 0;
var sampleHandler = new TykJS.TykEventHandlers.NewEventHandler({});
sampleHandler.NewHandler(function(event, context) {
  count++;
  log("sampleHandler saw " + event.EventType);
  TykMakeHttpRequest(JSON.stringify({
    Method: "POST",
    Domain: "${sink}",
    Resource: "/event",
    Headers: { "Content-Type": "application/json" },
    Body: JSON.stringify({
      count: count,
      EventType: event.EventType,
      EventMetaData: event.EventMetaData,
      TimeStamp: event.TimeStamp,
      Type: event.Type,
      context: context
    })
  }));
});
`;
}

const THROWER = `var thrower = new TykJS.TykEventHandlers.NewEventHandler({});
thrower.NewHandler(function (event, context) { throw new Error("event handler blew up"); });
`;

const LOOPER = `var looper = new TykJS.TykEventHandlers.NewEventHandler({});
looper.NewHandler(function (event, context) { while (true) {} });
`;

function handler(name: string, path: string) {
  return { handler_name: "eh_dynamic_handler", handler_meta: { name, path } };
}

Deno.test("JS event handlers run after the request, keep their globals, may call out, and cannot hurt each other", async () => {
  await using sink = await startRawHttpServer();
  const upstream = await startUpstream();
  const gw = await startGateway({
    conf: {
      enable_jsvm: true,
      jsvm_timeout: 3,
      event_handlers: { events: { TokenCreated: [handler("sampleHandler", "events/sample.js")] } },
    },
    files: {
      "events/sample.js": reporter(sink.url),
      "events/thrower.js": THROWER,
      "events/looper.js": LOOPER,
    },
    apps: {
      "tok.json": tokenApi("tok", "/tok/", upstream.url, {
        event_handlers: {
          events: {
            AuthFailure: [
              handler("looper", "events/looper.js"),
              handler("thrower", "events/thrower.js"),
              handler("sampleHandler", "events/sample.js"),
              {
                handler_name: "eh_dynamic_handler",
                handler_meta: { name: "off", path: "none.js", disabled: true },
              },
            ],
          },
        },
      }),
    },
  });
  const looperTimeouts = () =>
    gw.logs().match(/handler=looper.*kind=timeout|kind=timeout.*handler=looper/g)?.length ?? 0;
  try {
    await gw.waitForLog(/eh_dynamic_handler works only in an API definition/);
    for (let i = 1; i <= 2; i++) {
      const started = performance.now();
      const res = await fetch(`${gw.url}/tok/x`, { headers: { authorization: `bad-key-${i}` } });
      assert.equal(res.status, 403);
      await res.body?.cancel();
      assert.ok(performance.now() - started < 1500, "the request does not wait for its handlers (one loops)");
      await sink.waitUntil(() => sink.requests.length === i, 10_000);
      // the looper (listed first) spins for jsvm_timeout on each event: the report came before that ended
      assert.ok(looperTimeouts() < i, "a looping handler holds up no other handler");
    }
    assert.deepEqual(sink.errors, [], "TykMakeHttpRequest frames its request exactly");
    const [first, second] = sink.requests.map((r) => JSON.parse(r.text()));
    assert.equal(first.count, 1);
    assert.equal(second.count, 2, "globals persist from event to event");
    assert.equal(first.EventType, "AuthFailure");
    assert.equal(first.Type, "AuthFailure");
    assert.equal(first.EventMetaData.Key, "bad-key-1");
    assert.equal(first.EventMetaData.Message, "Auth Failure");
    assert.equal(first.EventMetaData.Path, "/tok/x");
    assert.match(first.TimeStamp, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)? \+0000 UTC$/);
    assert.deepEqual(first.context, { APIID: "tok", OrgID: "default" });
    await gw.waitForLog(/sampleHandler saw AuthFailure/);
    await gw.waitForLog(/event handler blew up/);
    await gw.waitForLog(/handler=looper.*kind=timeout|kind=timeout.*handler=looper/);

    const started = performance.now();
    const third = await fetch(`${gw.url}/tok/x`, { headers: { authorization: "bad-key-3" } });
    assert.equal(third.status, 403);
    await third.body?.cancel();
    assert.ok(performance.now() - started < 1500);
    await sink.waitUntil(() => sink.requests.length === 3, 10_000);
    assert.equal(JSON.parse(sink.requests[2].text()).count, 3, "the looping handler did not reset this one");
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});

Deno.test("JS event handlers receive rate limit and quota events, and a Tyk OAS API's custom handler auth failures", async () => {
  await using sink = await startRawHttpServer();
  const upstream = await startUpstream();
  const onLimits = [handler("sampleHandler", "events/sample.js")];
  const gw = await startGateway({
    conf: { enable_jsvm: true },
    files: { "events/sample.js": reporter(sink.url) },
    apps: {
      "limited.json": tokenApi("limited", "/limited/", upstream.url, {
        event_handlers: { events: { RatelimitExceeded: onLimits, QuotaExceeded: onLimits } },
      }),
      "pets.json": {
        openapi: "3.0.3",
        info: { title: "pets", version: "1.0" },
        paths: {},
        components: {
          securitySchemes: { authToken: { type: "apiKey", in: "header", name: "Authorization" } },
        },
        security: [{ authToken: [] }],
        "x-tyk-api-gateway": {
          info: { id: "pets", name: "pets", state: { active: true } },
          upstream: { url: upstream.url },
          server: {
            listenPath: { value: "/pets/", strip: true },
            authentication: { enabled: true, securitySchemes: { authToken: { enabled: true } } },
            eventHandlers: [{
              enabled: true,
              trigger: "AuthFailure",
              type: "custom",
              id: "report",
              name: "report",
              functionName: "sampleHandler",
              path: "events/sample.js",
            }],
          },
        },
      },
    },
  });
  try {
    const limited = await createKey(gw, keySession(["limited"], { rate: 1, per: 60 }));
    assert.deepEqual(await statuses(`${gw.url}/limited/rate`, 2, limited), [200, 429]);
    await sink.waitUntil(() => sink.requests.length === 1, 10_000);
    const quota = await createKey(gw, keySession(["limited"], { quota_max: 1, quota_renewal_rate: 60 }));
    assert.deepEqual(await statuses(`${gw.url}/limited/quota`, 2, quota), [200, 403]);
    await sink.waitUntil(() => sink.requests.length === 2, 10_000);
    assert.deepEqual(await statuses(`${gw.url}/pets/x`, 1, "no-such-key"), [403]);
    await sink.waitUntil(() => sink.requests.length === 3, 10_000);

    const [rate, quotaEvent, auth] = sink.requests.map((r) => JSON.parse(r.text()));
    assert.equal(rate.EventType, "RatelimitExceeded");
    assert.equal(rate.EventMetaData.Message, "Rate Limit Exceeded");
    assert.equal(rate.EventMetaData.Path, "/limited/rate");
    assert.equal(rate.EventMetaData.Key, limited);
    assert.equal(rate.EventMetaData.Origin, "127.0.0.1");
    const wire = base64Text(rate.EventMetaData.OriginatingRequest);
    assert.ok(wire.startsWith("GET /limited/rate HTTP/1.1\r\n"), wire);
    assert.deepEqual(rate.context, { APIID: "limited", OrgID: "default" });
    assert.equal(quotaEvent.EventType, "QuotaExceeded");
    assert.equal(quotaEvent.EventMetaData.Message, "Key Quota Limit Exceeded");
    assert.equal(quotaEvent.EventMetaData.Key, quota);
    assert.equal(quotaEvent.count, 2, "one sandbox per handler of an API, whichever event it is on");
    assert.equal(auth.EventType, "AuthFailure");
    assert.equal(auth.EventMetaData.Key, "no-such-key");
    assert.equal(auth.count, 1, "another API's handler has its own globals");
    assert.deepEqual(auth.context, { APIID: "pets", OrgID: "" });
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});
