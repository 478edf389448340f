/**
 * Makes the sandbox's global scope what Tyk plugins may use and nothing more, before any plugin code runs.
 *
 * A Worker with `permissions: "none"` cannot use Deno's file, env or net APIs, but it can still start a
 * nested Worker, open a BroadcastChannel to other sandboxes, fill the Cache API, schedule timers that run
 * between calls, and `import()` with the gateway's own permissions. So every global not on the allow-list
 * below is deleted, and `eval`/`Function` (and the constructors of async and generator functions) pass
 * their source text through the code guard (no `import()`, ticks at every function entry and loop
 * iteration) before V8 compiles it. The global object keeps inheriting EventTarget: Deno reports uncaught
 * errors through it, and all a plugin can do with it is listen to its own sandbox's events.
 */

import { evaluateScript } from "./_evaluate.ts";
import { type Guarded, isRefused } from "./code_guard.ts";
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
  ReflectSetPrototypeOf,
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
 * Checks code made at run time and returns it instrumented.
 * @throws {SyntaxError} when it does not parse, holds an `import()` or a name reserved by the sandbox
 */
function guardCode(guard: (code: string) => Guarded, code: string): string {
  const out = guard(code);
  if (isRefused(out)) throw new SafeSyntaxError(`${out.message} (line ${out.line}, column ${out.column})`);
  return out.code;
}

/**
 * A constructor (`Function`, `AsyncFunction`, …) that checks the source it is given first. V8 compiles the
 * text it builds from the arguments (`function anonymous(a,b\n) {\nbody\n}`); the original constructor checks
 * the arguments as V8 does (its SyntaxError, a body that closes the function early), then that same text,
 * instrumented, is what runs.
 */
function guardConstructor(
  guard: (code: string) => Guarded,
  original: (...args: string[]) => unknown,
  keyword: string,
) {
  const build = (args: ArrayLike<unknown>, newTarget: unknown): object => {
    // Convert once: an object whose toString answers differently the second time gets no second chance.
    const texts: string[] = [];
    for (let i = 0; i < args.length; i++) append(texts, SafeString(args[i]));
    const body = texts.length > 0 ? texts[texts.length - 1] : "";
    let list = "";
    for (let i = 0; i < texts.length - 1; i++) list += i === 0 ? texts[i] : `,${texts[i]}`;
    const checked = ReflectConstruct(original, texts, newTarget as () => unknown) as object;
    const made = evaluateScript(
      `(${guardCode(guard, `${keyword} anonymous(${list}\n) {\n${body}\n}`)})`,
      EVAL_FILE,
    );
    ReflectSetPrototypeOf(made as object, ReflectGetPrototypeOf(checked));
    return made as object;
  };
  return new SafeProxy(original, {
    apply: (_target, _thisArg, args) => build(args, original),
    construct: (_target, args, newTarget) => build(args, newTarget),
  });
}

/** Replaces `eval`, `Function` and the other function constructors with guarded ones. */
function guardCodeGeneration(global: Record<string, unknown>, guard: (code: string) => Guarded): void {
  const guardedEval = {
    eval(code: unknown): unknown {
      if (typeof code !== "string") return code;
      return evaluateScript(guardCode(guard, code), EVAL_FILE);
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
    const guarded = guardConstructor(guard, original as (...args: string[]) => unknown, keyword);
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
export function hardenGlobal(global: Record<string, unknown>, guard: (code: string) => Guarded): void {
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
  guardCodeGeneration(global, guard);
}
