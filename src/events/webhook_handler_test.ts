import assert from "node:assert/strict";
import { join } from "node:path";
import { captureLog } from "../capture_log.ts";
import { type RawRequest, startRawHttpServer } from "../../tests/support/raw_http_server.ts";
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

/** Runs `fn` with a strict raw HTTP server as the target, and a handler context around it. */
async function withSink(
  fn: (
    url: string,
    seen: RawRequest[],
    context: WebhookContext & { log: ReturnType<typeof captureLog> },
  ) => Promise<void>,
) {
  await using server = await startRawHttpServer();
  const upstream = new UpstreamClient({ keepAlive: false });
  await using store = await openEmbeddedStore(`${root}/${++opened}`);
  const log = captureLog();
  try {
    await fn(server.url, server.requests, { store, upstream, log, templatePath: root, baseDir: root });
    assert.deepEqual(server.errors, [], "every request the handler sent is framed correctly");
  } finally {
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
    const [hook] = seen;
    assert.equal(hook.method, "GET");
    assert.equal(hook.target, "/h?x=1");
    assert.equal(hook.text(), "AuthFailure at /a&#43;b");
    assert.equal(hook.header("content-length"), String(hook.body.length));
    assert.equal(hook.header("user-agent"), "Tyk-Hookshot");
    assert.deepEqual(hook.headers.find(([name]) => name.toLowerCase() === "x-one"), ["X-One", "1"]);
    assert.equal(hook.header("content-type"), "", "a template that is not .json sets an empty type");
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
    assert.deepEqual(seen.map((s) => s.text()), [
      defaultWebhookBody(KEY_EVENT),
      defaultWebhookBody({
        ...KEY_EVENT,
        Meta: { ...KEY_EVENT.Meta, Key: "other" },
      }),
    ]);
  }));
