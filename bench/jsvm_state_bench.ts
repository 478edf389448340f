/**
 * What "fresh state per call" costs a sandbox: `snapshotState()` once after loading, and the restore
 * that runs after every call (off the request's path: the result is already posted).
 *
 *   deno bench --no-remote -A bench/jsvm_state_bench.ts
 *
 * The global object is a stand-in with what a loaded sandbox holds: the built-ins, underscore, the TykJS
 * bootstrap and a plugin's globals (its middleware object, a counter, a small config, a 100-entry table).
 */
import _ from "underscore";
import { createTykApi, createTykJS } from "../src/jsvm/sandbox/bootstrap.ts";
import { RESET_ROOTS, resetTracked } from "../src/jsvm/sandbox/reset_scope.ts";
import { snapshotState } from "../src/jsvm/sandbox/state_reset.ts";

const runtime = { log() {}, hostCall: () => undefined };
const tyk = createTykJS(runtime);
const { TykMiddleware } = tyk.TykJS as Record<string, object>;
const builtinNames = Object.getOwnPropertyNames(globalThis).filter((name) =>
  /^[A-Z]/.test(name) && typeof (globalThis as Record<string, unknown>)[name] === "function"
).slice(0, 60);
const global: Record<string, unknown> = {};
for (const name of builtinNames) global[name] = (globalThis as Record<string, unknown>)[name];
Object.assign(global, { JSON, Math, Reflect, _, TykJS: tyk.TykJS, ...createTykApi(runtime) });
const builtins = new Set<PropertyKey>(Reflect.ownKeys(global));

// A plugin's globals.
const mw = new (TykMiddleware as { NewMiddleware: new (c: unknown) => Record<string, unknown> })
  .NewMiddleware({});
mw.ProcessRequest = (request: unknown) => request;
const config = {
  greeting: "hi",
  limits: { n: 1, list: [1, 2, 3] },
  flags: Object.fromEntries([...Array(20)].map((_, i) => [`f${i}`, i])),
};
const table = Object.fromEntries([...Array(100)].map((_, i) => [`key${i}`, { id: i, name: `entry ${i}` }]));
Object.assign(global, { myMw: mw, counter: 0, config, table });

const TRACKED = resetTracked(tyk, [Object, Array, String, Number, Symbol, JSON, Math, Reflect, Promise]);
const snapshot = () => snapshotState({ global, builtins, roots: RESET_ROOTS, tracked: TRACKED });
const restore = snapshot();

Deno.bench("snapshotState() after load", { group: "snapshot" }, () => {
  snapshot();
});

Deno.bench("nothing changed", { group: "restore after a call", baseline: true }, () => {
  restore();
});
Deno.bench("a global counter changed", { group: "restore after a call" }, () => {
  (global.counter as number)++;
  restore();
});
Deno.bench(
  "plain data changed (config.limits.n++, table entry added)",
  { group: "restore after a call" },
  () => {
    config.limits.n++;
    (table as Record<string, unknown>).extra = 1;
    restore();
  },
);
Deno.bench("a global added and a prototype tampered", { group: "restore after a call" }, () => {
  global.leak = 1;
  (Object.prototype as Record<string, unknown>).toJSON = () => "x";
  restore();
});
