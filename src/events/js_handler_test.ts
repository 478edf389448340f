import assert from "node:assert/strict";
import { join } from "node:path";
import { captureLog } from "../capture_log.ts";
import { createJsEventHandler, eventArgument, type JsEventSettings } from "./js_handler.ts";

function settings(baseDir: string, extra: Partial<JsEventSettings> = {}): JsEventSettings {
  return {
    apiId: "api-1",
    orgId: "org-1",
    enableJsvm: true,
    timeoutMs: 2000,
    baseDir,
    log: captureLog(),
    sandboxes: new Map(),
    ...extra,
  };
}

Deno.test("eventArgument() gives Tyk's fields and the documented names", () => {
  assert.deepEqual(
    JSON.parse(eventArgument({ Type: "AuthFailure", Meta: { Key: "k" }, TimeStamp: "t" })),
    {
      EventType: "AuthFailure",
      EventMetaData: { Key: "k" },
      TimeStamp: "t",
      Type: "AuthFailure",
      Meta: { Key: "k" },
    },
  );
});

Deno.test("createJsEventHandler() refuses what cannot work, naming the field", () => {
  const base = settings("/nowhere");
  assert.equal(createJsEventHandler({ name: "h", path: "h.js", disabled: true }, base), null);
  assert.throws(
    () => createJsEventHandler({ name: "h", path: "h.js" }, undefined),
    /only in an API definition/,
  );
  assert.throws(
    () => createJsEventHandler({ path: "h.js" }, base),
    /handler_meta.name must name a JS global/,
  );
  assert.throws(() => createJsEventHandler({ name: "h" }, base), /handler_meta.path is empty/);
  assert.throws(
    () => createJsEventHandler({ name: "h", path: 5 }, base),
    /handler_meta.path must be a string/,
  );
  assert.throws(
    () => createJsEventHandler({ name: "h", path: "h.js" }, { ...base, enableJsvm: false }),
    /enable_jsvm is false/,
  );
  assert.throws(() => createJsEventHandler({ name: "h", path: "h.js" }, base), /h\.js: no such file/);
});

Deno.test("createJsEventHandler() entries for the same file and name share one sandbox and its globals", async () => {
  const dir = await Deno.makeTempDir({ prefix: "js_handler_test_" });
  const log = captureLog();
  const shared = settings(dir, { log });
  try {
    await Deno.writeTextFile(
      join(dir, "h.js"),
      `var seen = [];
var h = new TykJS.TykEventHandlers.NewEventHandler({});
h.NewHandler(function (event, context) {
  seen.push(event.EventType);
  log(context.APIID + " " + seen.join(","));
});`,
    );
    const one = createJsEventHandler({ name: "h", path: "h.js" }, shared)!;
    const two = createJsEventHandler({ name: "h", path: "h.js" }, shared)!;
    assert.equal(shared.sandboxes.size, 1);
    await one.handle({ Type: "AuthFailure", Meta: {}, TimeStamp: "t" });
    await two.handle({ Type: "KeyExpired", Meta: {}, TimeStamp: "t" });
    assert.ok(log.lines.some((l) => l.msg === "api-1 AuthFailure,KeyExpired"));
    await one.close!();
    await two.close!();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
