/**
 * Makes the sandbox's global scope what Tyk plugins may use and nothing more, before any plugin code runs.
 *
 * A Worker with `permissions: "none"` cannot use Deno's file, env or net APIs, but it can still start a
 * nested Worker, open a BroadcastChannel to other sandboxes, fill the Cache API, schedule timers that run
 * between calls, and `import()` with the gateway's own permissions. So every global not on the allow-list
 * below is deleted and `eval`/`Function` (and the constructors of async and generator functions) refuse
 * source text that holds `import`. The global object keeps inheriting EventTarget: Deno reports uncaught
 * errors through it, and all a plugin can do with it is listen to its own sandbox's events.
 */

import { evaluateScript } from "./_evaluate.ts";
import { findImport, IMPORT_FORBIDDEN } from "./import_guard.ts";
import { instrumentLoops, RESERVED_NAME } from "./loop_guard.ts";
import {
  append,
  ObjectGetOwnPropertyDescriptor,
  ObjectHasOwn,
  OriginalFunction,
  ReflectApply,
  ReflectConstruct,
  ReflectDefineProperty,
  ReflectDeleteProperty,
  ReflectGetPrototypeOf,
  ReflectOwnKeys,
  SafeProxy,
  SafeSet,
  SafeString,
  SafeSyntaxError,
  SetPrototypeHas,
} from "./_primordials.ts";

/** Globals plugins keep: ECMAScript's, plus a few pure helpers. Everything else is removed. */
const ALLOWED = new SafeSet([
  "Object",
  "Function",
  "Array",
  "Number",
  "parseFloat",
  "parseInt",
  "Infinity",
  "NaN",
  "undefined",
  "Boolean",
  "String",
  "Symbol",
  "Date",
  "Promise",
  "RegExp",
  "Error",
  "AggregateError",
  "EvalError",
  "RangeError",
  "ReferenceError",
  "SyntaxError",
  "TypeError",
  "URIError",
  "SuppressedError",
  "globalThis",
  "JSON",
  "Math",
  "Intl",
  "ArrayBuffer",
  "Atomics",
  "Uint8Array",
  "Int8Array",
  "Uint16Array",
  "Int16Array",
  "Uint32Array",
  "Int32Array",
  "BigUint64Array",
  "BigInt64Array",
  "Uint8ClampedArray",
  "Float16Array",
  "Float32Array",
  "Float64Array",
  "DataView",
  "Map",
  "BigInt",
  "Set",
  "Iterator",
  "WeakMap",
  "WeakSet",
  "WeakRef",
  "Proxy",
  "Reflect",
  "decodeURI",
  "decodeURIComponent",
  "encodeURI",
  "encodeURIComponent",
  "escape",
  "unescape",
  "eval",
  "isFinite",
  "isNaN",
  "Temporal",
  "DisposableStack",
  "AsyncDisposableStack",
  "TextEncoder",
  "TextDecoder",
  "URL",
  "URLSearchParams",
  "atob",
  "btoa",
  "structuredClone",
  "queueMicrotask",
  "self",
]);

/** Members removed from allowed globals: they reach outside the call (timers, shared blob URLs). */
const REMOVED_MEMBERS: [string, string][] = [
  ["Atomics", "waitAsync"],
  ["URL", "createObjectURL"],
  ["URL", "revokeObjectURL"],
];

/** File name given to code run through `eval`. */
const EVAL_FILE = "<eval>";

/**
 * Checks code made at run time and returns it with its loops instrumented.
 * @throws {SyntaxError} when it holds an `import` or a name reserved by the sandbox
 */
export function guardCode(code: string): string {
  const at = findImport(code);
  if (at !== null) throw new SafeSyntaxError(`${IMPORT_FORBIDDEN} (line ${at.line}, column ${at.column})`);
  const out = instrumentLoops(code);
  if (out.reserved !== null) throw new SafeSyntaxError(`${RESERVED_NAME} (line ${out.reserved.line})`);
  return out.code;
}

/** A constructor (`Function`, `AsyncFunction`, …) that checks the source it is given first. */
function guardConstructor(original: (...args: string[]) => unknown, keyword: string) {
  const check = (args: ArrayLike<unknown>): string[] => {
    // Convert once: an object whose toString answers differently the second time gets no second chance.
    const texts: string[] = [];
    for (let i = 0; i < args.length; i++) append(texts, SafeString(args[i]));
    const body = texts.length > 0 ? texts[texts.length - 1] : "";
    let list = "";
    for (let i = 0; i < texts.length - 1; i++) list += i === 0 ? texts[i] : `,${texts[i]}`;
    // The same text V8 builds and parses; instrumented part by part, as V8 takes them.
    guardCode(`${keyword} anonymous(${list}\n) {\n${body}\n}`);
    const guarded: string[] = [];
    for (let i = 0; i < texts.length; i++) append(guarded, guardCode(texts[i]));
    return guarded;
  };
  return new SafeProxy(original, {
    apply: (target, thisArg, args) => ReflectApply(target, thisArg, check(args)),
    construct: (target, args, newTarget) => ReflectConstruct(target, check(args), newTarget),
  });
}

/** Replaces `eval`, `Function` and the other function constructors with guarded ones. */
function guardCodeGeneration(global: Record<string, unknown>): void {
  const guardedEval = {
    eval(code: unknown): unknown {
      if (typeof code !== "string") return code;
      return evaluateScript(guardCode(code), EVAL_FILE);
    },
  }.eval;
  global.eval = guardedEval;

  const kinds: [object, string][] = [
    [OriginalFunction, "function"],
    [ReflectGetPrototypeOf(async function () {})!.constructor, "async function"],
    [ReflectGetPrototypeOf(function* () {})!.constructor, "function*"],
    [ReflectGetPrototypeOf(async function* () {})!.constructor, "async function*"],
  ];
  for (let i = 0; i < kinds.length; i++) {
    const [original, keyword] = kinds[i];
    const guarded = guardConstructor(original as (...args: string[]) => unknown, keyword);
    const proto = ObjectGetOwnPropertyDescriptor(original, "prototype")!.value as object;
    ReflectDefineProperty(proto, "constructor", { __proto__: null, value: guarded } as PropertyDescriptor);
    if (original === OriginalFunction) global.Function = guarded;
  }
}

/**
 * Deletes every global not on the allow-list, turns lazy accessors into plain values and guards code
 * generation. Throws if something cannot be removed.
 * @throws {Error} when a global that must go is not configurable
 */
export function hardenGlobal(global: Record<string, unknown>): void {
  const keys = ReflectOwnKeys(global);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    if (typeof key !== "string") continue;
    const d = ObjectGetOwnPropertyDescriptor(global, key)!;
    if (!SetPrototypeHas(ALLOWED, key)) {
      if (!ReflectDeleteProperty(global, key)) {
        throw new Error(`Cannot harden the JS sandbox: "${key}" stays`);
      }
    } else if (!ObjectHasOwn(d, "value")) {
      // Deno defines many web globals as lazy getters; keep the value, drop the internal getter function.
      const value = key === "self" ? global : ReflectApply(d.get!, global, []);
      ReflectDefineProperty(global, key, {
        __proto__: null,
        value,
        writable: true,
        enumerable: d.enumerable,
        configurable: true,
      } as PropertyDescriptor);
    }
  }
  for (let i = 0; i < REMOVED_MEMBERS.length; i++) {
    const [owner, member] = REMOVED_MEMBERS[i];
    ReflectDeleteProperty(global[owner] as object, member);
  }
  guardCodeGeneration(global);
}
