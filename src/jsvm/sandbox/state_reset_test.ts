import assert from "node:assert/strict";
import { snapshotState } from "./state_reset.ts";

function fakeGlobal(): Record<string, unknown> {
  return { counter: 0, config: { n: 1, list: [1, 2, { deep: true }] }, helper() {}, label: "x" };
}

Deno.test("snapshotState() deletes added globals and puts back reassigned ones", () => {
  const g = fakeGlobal();
  const helper = g.helper;
  const restore = snapshotState({ global: g });
  g.counter = 5;
  g.added = "leak";
  g.helper = null;
  delete g.label;
  restore();
  assert.deepEqual(Object.keys(g), ["counter", "config", "helper", "label"]);
  assert.equal(g.counter, 0);
  assert.equal(g.helper, helper);
  assert.equal(g.label, "x");
});

Deno.test("snapshotState() puts plain data back in place, keeping its identity", () => {
  const g = fakeGlobal();
  const config = g.config as { n: number; list: unknown[]; extra?: number };
  const restore = snapshotState({ global: g });
  config.n++;
  config.extra = 1;
  config.list.push(4);
  (config.list[2] as { deep: boolean }).deep = false;
  restore();
  assert.equal(g.config, config);
  assert.deepEqual(config, { n: 1, list: [1, 2, { deep: true }] });
});

Deno.test("snapshotState() restores a reassigned plain object and its content", () => {
  const g = fakeGlobal();
  const config = g.config as { n: number };
  const restore = snapshotState({ global: g });
  config.n = 9;
  g.config = { other: true };
  restore();
  assert.equal(g.config, config);
  assert.equal(config.n, 1);
});

Deno.test("snapshotState() puts back tampered built-in prototypes", () => {
  const proto: Record<string, unknown> = {
    toString() {
      return "ok";
    },
  };
  const g = { Thing: function Thing() {} } as Record<string, unknown>;
  (g.Thing as { prototype: object }).prototype = proto;
  const toString = proto.toString;
  const restore = snapshotState({ global: g, roots: [proto] });
  proto.toJSON = () => "hijacked";
  proto.toString = () => "hijacked";
  restore();
  assert.deepEqual(Object.keys(proto), ["toString"]);
  assert.equal(proto.toString, toString);
});

Deno.test("snapshotState() puts back properties of objects the globals hold", () => {
  const mw = Object.create({ shared: 1 }) as Record<string, unknown>;
  mw.handler = () => "a";
  const handler = mw.handler;
  const restore = snapshotState({ global: { mw } });
  mw.handler = () => "b";
  restore();
  assert.equal(mw.handler, handler);
});

Deno.test("snapshotState() resets lexical bindings through their accessors", () => {
  let counter = 0;
  const state = { hits: 0 };
  const restore = snapshotState({
    global: {},
    lexical: {
      read: () => [counter, state],
      write: (index, value) => {
        if (index !== 0) return false;
        counter = value as number;
        return true;
      },
    },
  });
  counter = 3;
  state.hits = 7;
  restore();
  assert.equal(counter, 0);
  assert.equal(state.hits, 0);
});

Deno.test("snapshotState() handles NaN values without restoring every call", () => {
  const g: Record<string, unknown> = { nothing: NaN };
  const restore = snapshotState({ global: g });
  restore();
  assert.ok(Number.isNaN(g.nothing));
});

Deno.test("snapshotState() makes a global enumerable again after a call hid it", () => {
  const g = fakeGlobal();
  const restore = snapshotState({ global: g });
  Object.defineProperty(g, "label", { enumerable: false });
  restore();
  assert.deepEqual(Object.keys(g), ["counter", "config", "helper", "label"]);
});

Deno.test("snapshotState() looks at every key only once for a change it cannot undo", () => {
  // Deno itself redefines a global (queueMicrotask) as non-enumerable after the snapshot; a change that
  // cannot be put back must not send every later reset down the slow path, which lists every key.
  let listed = 0; // Object.keys and Reflect.ownKeys both ask the proxy for its keys
  const g = new Proxy(fakeGlobal(), {
    ownKeys(target) {
      listed++;
      return Reflect.ownKeys(target);
    },
  });
  const restore = snapshotState({ global: g });
  Object.defineProperty(g, "label", { enumerable: false, configurable: false });
  restore(); // finds the change, and lists the keys to look for more
  listed = 0;
  restore();
  restore();
  assert.equal(listed, 2, "one count of the enumerable keys per reset, no listing");
  assert.equal(g.label, "x");
});

Deno.test("snapshotState() deletes a hidden or symbol-keyed global once globalChanged() says so", () => {
  const g = fakeGlobal();
  let changed = false;
  const restore = snapshotState({ global: g, globalChanged: () => changed });
  Object.defineProperty(g, "hidden", { value: 1, configurable: true });
  g[Symbol.for("s") as unknown as string] = 1;
  restore();
  assert.ok("hidden" in g, "without the signal the reset does not list every key");
  changed = true;
  restore();
  assert.deepEqual(Reflect.ownKeys(g), ["counter", "config", "helper", "label"]);
});
