import assert from "node:assert/strict";
import { captureLog } from "../capture_log.ts";
import { createEventBus, type EventHandler, type HandlerFactory, NO_EVENTS } from "./bus.ts";
import type { EventMessage } from "./event.ts";

/** A factory whose handlers record what they receive; `meta.fail` makes them throw. */
function recorder() {
  const seen: EventMessage[] = [];
  let wake: () => void = () => {};
  const factory: HandlerFactory<null> = (meta) => {
    if (meta.disabled === true) return null;
    if (meta.bad) throw new Error("handler_meta.bad is set");
    return {
      handle(event) {
        if (meta.fail) throw new Error("boom");
        seen.push(event);
        wake();
      },
    } satisfies EventHandler;
  };
  const next = () => new Promise<void>((resolve) => wake = resolve);
  return { seen, factory, next };
}

Deno.test("createEventBus() delivers after the raising code returns, with Tyk's envelope", async () => {
  const { seen, factory, next } = recorder();
  const bus = createEventBus({ AuthFailure: [{ handler_name: "rec", handler_meta: {} }] }, {
    factories: new Map([["rec", factory]]),
    context: null,
    log: captureLog(),
    owner: "api-1",
    now: () => Date.UTC(2026, 7, 21, 12, 39, 47, 120),
  });
  assert.equal(bus.wants("AuthFailure"), true);
  assert.equal(bus.wants("QuotaExceeded"), false);
  const delivered = next();
  bus.fire("AuthFailure", { Message: "Auth Failure", Key: "k" });
  assert.equal(seen.length, 0, "nothing is delivered synchronously");
  await delivered;
  assert.deepEqual(seen, [{
    Type: "AuthFailure",
    Meta: { Message: "Auth Failure", Key: "k" },
    TimeStamp: "2026-08-21 12:39:47.12 +0000 UTC",
  }]);
});

Deno.test("createEventBus() skips disabled handlers, logs unknown and invalid ones, survives a throwing one", async () => {
  const { seen, factory, next } = recorder();
  const log = captureLog();
  const bus = createEventBus({
    KeyExpired: [
      { handler_name: "rec", handler_meta: { fail: true } },
      { handler_name: "nope", handler_meta: {} },
      { handler_name: "rec", handler_meta: { bad: true } },
      { handler_name: "rec", handler_meta: { disabled: true } },
      { handler_name: "rec", handler_meta: {} },
    ],
  }, { factories: new Map([["rec", factory]]), context: null, log, owner: "api-1" });
  const delivered = next();
  bus.fire("KeyExpired", {});
  await delivered;
  assert.equal(seen.length, 1);
  assert.deepEqual(log.lines.map((line) => `${line.level} ${line.msg}`), [
    'error Cannot create event handler: unknown handler_name "nope"',
    "error Cannot create event handler: handler_meta.bad is set",
    "info Skipping disabled event handler",
    "error Event handler failed: boom",
  ]);
});

Deno.test("createEventBus() without handlers is the empty bus", () => {
  const log = captureLog();
  assert.equal(createEventBus({}, { factories: new Map(), context: null, log, owner: "x" }), NO_EVENTS);
});
