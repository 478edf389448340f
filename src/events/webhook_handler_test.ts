import assert from "node:assert/strict";
import { join } from "node:path";
import { captureLog } from "../capture_log.ts";
import { UpstreamClient } from "../upstream/client.ts";
import { openEmbeddedStore } from "../store/embedded.ts";
import type { EventMessage } from "./event.ts";
import { createWebhookHandler, defaultWebhookBody, type WebhookContext } from "./webhook_handler.ts";

const root = await Deno.makeTempDir({ prefix: "portcullis-webhook-" });
globalThis.addEventListener("unload", () => Deno.removeSync(root, { recursive: true }));
let opened = 0;

const KEY_EVENT: EventMessage = {
  Type: "AuthFailure",
  Meta: { Message: "Auth Failure", OriginatingRequest: "", Path: "/a+b", Origin: "1.2.3.4", Key: `k"1` },
  TimeStamp: "",
};

interface Seen {
  method: string;
  search: string;
  headers: Headers;
  body: string;
}

/** Runs `fn` with a sink that records requests, and a handler context around it. */
async function withSink(
  fn: (
    url: string,
    seen: Seen[],
    context: WebhookContext & { log: ReturnType<typeof captureLog> },
  ) => Promise<void>,
) {
  const seen: Seen[] = [];
  const abort = new AbortController();
  const ready = Promise.withResolvers<number>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    signal: abort.signal,
    onListen: (a) => ready.resolve(a.port),
  }, async (req) => {
    seen.push({
      method: req.method,
      search: new URL(req.url).search,
      headers: req.headers,
      body: await req.text(),
    });
    return new Response("ok");
  });
  const upstream = new UpstreamClient({ keepAlive: false });
  await using store = await openEmbeddedStore(`${root}/${++opened}`);
  const log = captureLog();
  try {
    await fn(`http://127.0.0.1:${await ready.promise}`, seen, {
      store,
      upstream,
      log,
      templatePath: root,
      baseDir: root,
    });
  } finally {
    abort.abort();
    await server.finished;
    upstream.close();
  }
}

Deno.test("defaultWebhookBody() renders Tyk's default template, escaped; token metadata fails as in Tyk", () => {
  assert.equal(
    defaultWebhookBody(KEY_EVENT),
    '\n{\n    "event": "AuthFailure",\n    "message": "Auth Failure",\n    "path": "/a&#43;b",\n' +
      '    "origin": "1.2.3.4",\n    "key": "k&#34;1"\n}\n\n\n',
  );
  assert.throws(
    () =>
      defaultWebhookBody({ Type: "TokenCreated", Meta: { Message: "m", Org: "o", Key: "k" }, TimeStamp: "" }),
    /can't evaluate field Path/,
  );
});

Deno.test("createWebhookHandler() refuses a bad target and header_map, and is null when disabled", () =>
  withSink((_url, _seen, context) => {
    assert.throws(
      () => createWebhookHandler({ target_path: "not a url" }, context),
      /target_path must be an absolute/,
    );
    assert.throws(
      () => createWebhookHandler({ target_path: "http://x/", header_map: { a: 1 } }, context),
      /header_map must be an object of strings/,
    );
    assert.equal(createWebhookHandler({ target_path: "http://x/", disabled: true }, context), null);
    return Promise.resolve();
  }));

Deno.test("createWebhookHandler() sends the rendered body with Tyk's headers; unknown methods become GET", () =>
  withSink(async (url, seen, context) => {
    await Deno.writeTextFile(join(root, "hook.txt"), "{{.Type}} at {{.Meta.Path}}");
    const handler = createWebhookHandler({
      target_path: `${url}/h?x=1`,
      method: "brew",
      template_path: "hook.txt",
      header_map: { "x-one": "1" },
    }, context)!;
    await handler.handle(KEY_EVENT);
    const [{ method, search, headers, body }] = seen;
    assert.equal(method, "GET");
    assert.equal(search, "?x=1");
    // Deno.serve drops a GET's body, so the framing is checked by its length here and byte for byte end to end.
    assert.equal(body, "");
    assert.equal(headers.get("content-length"), String("AuthFailure at /a&#43;b".length));
    assert.equal(headers.get("user-agent"), "Tyk-Hookshot");
    assert.equal(headers.get("x-one"), "1");
    assert.equal(headers.get("content-type"), "", "a template that is not .json sets no type");
    assert.match(context.log.lines[0].msg, /defaulting to GET/);
  }));

Deno.test("createWebhookHandler() logs a template that fails and sends nothing", () =>
  withSink(async (url, seen, context) => {
    const handler = createWebhookHandler({ target_path: url, method: "POST" }, context)!;
    await handler.handle({ Type: "TokenDeleted", Meta: { Message: "m", Org: "", Key: "k" }, TimeStamp: "" });
    assert.equal(seen.length, 0);
    assert.match(
      context.log.lines.at(-1)!.msg,
      /^Webhook template rendering error: can't evaluate field Path/,
    );
  }));

Deno.test("createWebhookHandler() with event_timeout sends an identical request once, a different one again", () =>
  withSink(async (url, seen, context) => {
    const handler = createWebhookHandler({ target_path: url, method: "POST", event_timeout: 60 }, context)!;
    await handler.handle(KEY_EVENT);
    await handler.handle(KEY_EVENT);
    await handler.handle({ ...KEY_EVENT, Meta: { ...KEY_EVENT.Meta, Key: "other" } });
    assert.equal(seen.length, 2);
    assert.deepEqual(seen.map((s) => s.body), [
      defaultWebhookBody(KEY_EVENT),
      defaultWebhookBody({
        ...KEY_EVENT,
        Meta: { ...KEY_EVENT.Meta, Key: "other" },
      }),
    ]);
  }));
