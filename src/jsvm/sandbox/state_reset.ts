/**
 * Fresh state per call without re-evaluating anything: after an API's sources load, the sandbox records
 * what plugin code can reach, and after each call puts back whatever the call changed.
 *
 * Recorded ("tracked") objects: the global object, the built-in prototypes given as roots, every object a
 * global (or a top-level `let`/`const`) holds, the prototypes of the functions among them, and — all the
 * way down — plain data (objects and arrays made of enumerable data properties), so `counter.n++` or
 * `cache[key] = value` on a global is undone too. Everything is put back in place: objects keep their
 * identity, so closures that hold them see the reset.
 *
 * The common case (nothing changed) must cost a few microseconds: the checks are functions generated once
 * (256 properties each), one monomorphic `target[key] === value` test per recorded data property. Only a
 * property that differs is redefined. Added properties are found by comparing `Object.keys` counts (V8 caches them;
 * `Reflect.ownKeys` costs 20-50 times more) of the global object, the roots and plain data objects, where
 * additions are the usual leak. Built-in objects cannot get additions once sealed, and the global object's
 * other additions (non-enumerable, symbol keyed) are reported by `globalChanged` (see builtin_lock.ts).
 */

import {
  append,
  ArrayIsArray,
  ArrayPrototype,
  JSONStringify,
  MapPrototypeGet,
  MapPrototypeSet,
  ObjectGetOwnPropertyDescriptor,
  ObjectHasOwn,
  ObjectKeys,
  ObjectPrototype,
  OriginalFunction,
  ReflectApply,
  ReflectDefineProperty,
  ReflectDeleteProperty,
  ReflectGetPrototypeOf,
  ReflectOwnKeys,
  SafeMap,
  SafeSet,
  SetPrototypeHas,
} from "./_primordials.ts";

/** Script-level lexical bindings (`let`, `const`, `class`), which are not global object properties. */
export interface LexicalBindings {
  /** Current values, in a fixed order. */
  read(): unknown[];
  /** Reassigns binding `index`; false when it cannot be (a `const`). */
  write(index: number, value: unknown): boolean;
}

/** What to record. */
export interface SnapshotOptions {
  /** The global object: added properties are deleted, and the objects its properties hold are tracked. */
  global: object;
  /** Globals whose values are not followed (built-ins: tracking all of them would cost every call). */
  builtins?: Set<PropertyKey>;
  /** Objects whose added properties are deleted too (`Object.prototype.toJSON = …`). */
  roots?: readonly object[];
  /** Further objects whose existing properties are put back. */
  tracked?: readonly object[];
  lexical?: LexicalBindings;
  /**
   * True when the global object got a property `Object.keys` does not count (non-enumerable or symbol
   * keyed) since it last answered true; see builtin_lock.ts.
   */
  globalChanged?: () => boolean;
}

/** One tracked object. */
interface ObjectRecord {
  target: object;
  keys: PropertyKey[];
  /** Recorded descriptors, by key index. */
  descriptors: PropertyDescriptor[];
  /** Recorded count of enumerable string keys (`Object.keys`, which V8 caches), when added properties are looked for; else -1. */
  count: number;
  /** Recorded keys, when added properties are looked for. */
  known: Set<PropertyKey> | null;
  /** Indexes of accessor properties, compared by descriptor (only where additions are looked for too). */
  accessors: number[];
}

/** A generated check over a run of recorded data properties: `check(from)` returns the first index ≥ from that differs, or -1. */
interface Chunk {
  first: number;
  check: (from: number) => number;
}

const CHECKS_PER_FUNCTION = 256;

function isObject(value: unknown): value is object {
  return (typeof value === "object" && value !== null) || typeof value === "function";
}

/** Plain data: an array, or an object from `{}`/`JSON.parse`, whose string-keyed properties are all enumerable data. */
function isPlainData(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  const proto = ReflectGetPrototypeOf(value);
  if (ArrayIsArray(value) ? proto !== ArrayPrototype : proto !== ObjectPrototype && proto !== null) {
    return false;
  }
  const keys = ReflectOwnKeys(value);
  for (let i = 0; i < keys.length; i++) {
    if (typeof keys[i] !== "string") return false;
    const d = ObjectGetOwnPropertyDescriptor(value, keys[i])!;
    if (!ObjectHasOwn(d, "value") || (!d.enumerable && keys[i] !== "length")) return false;
  }
  return true;
}

function sameValue(a: unknown, b: unknown): boolean {
  return a === b || (a !== a && b !== b);
}

/**
 * Generates the identity checks of every recorded data property, `CHECKS_PER_FUNCTION` to a function: a
 * `switch` whose cases fall through, so a check can resume after a property it just put back.
 */
function compileChecks(targets: object[], keys: PropertyKey[], values: unknown[]): Chunk[] {
  const chunks: Chunk[] = [];
  for (let first = 0; first < keys.length; first += CHECKS_PER_FUNCTION) {
    const end = Math.min(first + CHECKS_PER_FUNCTION, keys.length);
    let prologue = "";
    let body = "";
    for (let i = first; i < end; i++) {
      const n = i - first;
      prologue += `const t${n} = T[${i}], k${n} = K[${i}], v${n} = V[${i}];\n`;
      // A literal key gets a named-property load, much cheaper than a keyed one; symbols stay keyed.
      const key = typeof keys[i] === "string" ? JSONStringify(keys[i]) : `k${n}`;
      // NaN is the one value not equal to itself.
      const differs = values[i] !== values[i] ? `t${n}[${key}] === t${n}[${key}]` : `t${n}[${key}] !== v${n}`;
      body += `case ${i}: if (${differs}) return ${i};\n`;
    }
    const factory = new OriginalFunction(
      "T",
      "K",
      "V",
      `${prologue}return function check(from) {\nswitch (from) {\n${body}}\nreturn -1;\n};`,
    );
    append(chunks, {
      first,
      check: ReflectApply(factory, null, [targets, keys, values]) as (from: number) => number,
    });
  }
  return chunks;
}

function record(target: object, lookForAdded: boolean): ObjectRecord {
  const keys = ReflectOwnKeys(target);
  const descriptors: PropertyDescriptor[] = [];
  const accessors: number[] = [];
  for (let i = 0; i < keys.length; i++) {
    const d = ObjectGetOwnPropertyDescriptor(target, keys[i])!;
    append(descriptors, d);
    if (!ObjectHasOwn(d, "value") && lookForAdded) append(accessors, i);
  }
  return {
    target,
    keys,
    descriptors,
    // An array's additions show in its length, which the value checks cover.
    count: lookForAdded && !ArrayIsArray(target) ? ObjectKeys(target).length : -1,
    known: lookForAdded ? new SafeSet(keys) : null,
    accessors,
  };
}

/** Puts back one property as recorded. */
function restoreProperty(target: object, key: PropertyKey, recorded: PropertyDescriptor): void {
  if (ReflectDefineProperty(target, key, recorded)) return;
  // Not configurable any more (frozen by the plugin, or a var): at least the value, if it is writable.
  ReflectDefineProperty(target, key, { __proto__: null, value: recorded.value } as PropertyDescriptor);
}

/** Whether an accessor or the number of enumerable keys differs from the record. */
function shapeChanged(r: ObjectRecord): boolean {
  for (let a = 0; a < r.accessors.length; a++) {
    const i = r.accessors[a];
    const d = ObjectGetOwnPropertyDescriptor(r.target, r.keys[i]);
    if (d === undefined || d.get !== r.descriptors[i].get || d.set !== r.descriptors[i].set) return true;
  }
  return ObjectKeys(r.target).length !== r.count;
}

/**
 * Puts back accessors and enumerability, and deletes every property the record does not know (enumerable
 * or not). Then takes the enumerable count again: what is left that still differs cannot be put back
 * (a property made non-configurable), and counting it as a change would run this slow path on every call.
 */
function restoreShape(r: ObjectRecord): void {
  const { target, keys, descriptors } = r;
  for (let i = 0; i < keys.length; i++) {
    const d = ObjectGetOwnPropertyDescriptor(target, keys[i]);
    const recorded = descriptors[i];
    if (
      d === undefined || d.get !== recorded.get || d.set !== recorded.set ||
      d.enumerable !== recorded.enumerable
    ) {
      restoreProperty(target, keys[i], recorded);
    }
  }
  const now = ReflectOwnKeys(target);
  for (let i = 0; i < now.length; i++) {
    if (SetPrototypeHas(r.known!, now[i]) || ReflectDeleteProperty(target, now[i])) continue;
    ReflectDefineProperty(target, now[i], { __proto__: null, value: undefined } as PropertyDescriptor);
  }
  r.count = ObjectKeys(target).length;
}

/**
 * Records the current state and returns the function that puts it back.
 * @example
 * const restore = snapshotState({ global: globalThis, roots: [Object.prototype] });
 * // … run a call …
 * restore();
 */
export function snapshotState(options: SnapshotOptions): () => void {
  const records: ObjectRecord[] = [];
  const seen = new SafeMap<object, true>();
  const pending: { target: object; lookForAdded: boolean }[] = [];

  const visit = (target: object, lookForAdded: boolean) => {
    if (MapPrototypeGet(seen, target) !== undefined) return;
    MapPrototypeSet(seen, target, true);
    append(pending, { target, lookForAdded });
  };

  /** Plain data is followed from any tracked object, all the way down; other objects one level from the global. */
  const follow = (value: unknown, fromGlobal: boolean) => {
    if (!isObject(value)) return;
    if (isPlainData(value)) {
      visit(value, true);
    } else if (fromGlobal) {
      visit(value, false);
      if (typeof value === "function") {
        const proto = ObjectGetOwnPropertyDescriptor(value, "prototype");
        if (proto !== undefined && isObject(proto.value)) visit(proto.value, false);
      }
    }
  };

  const builtins = options.builtins;
  visit(options.global, true);
  for (const root of options.roots ?? []) visit(root, true);
  for (const target of options.tracked ?? []) visit(target, false);
  const lexical = options.lexical;
  const lexicalValues = lexical === undefined ? [] : lexical.read();
  for (let i = 0; i < lexicalValues.length; i++) follow(lexicalValues[i], true);

  // Flat lists over every recorded data property, for the generated checks.
  const targets: object[] = [];
  const keys: PropertyKey[] = [];
  const values: unknown[] = [];
  const descriptors: PropertyDescriptor[] = [];
  for (let p = 0; p < pending.length; p++) {
    const { target, lookForAdded } = pending[p];
    const r = record(target, lookForAdded);
    append(records, r);
    const fromGlobal = target === options.global;
    for (let i = 0; i < r.keys.length; i++) {
      const d = r.descriptors[i];
      // an accessor is compared by shape, if at all; a value that is neither writable nor configurable (a
      // function's name and length once the built-ins are sealed) can never change
      if (!ObjectHasOwn(d, "value") || (!d.writable && !d.configurable)) continue;
      append(targets, target);
      append(keys, r.keys[i]);
      append(values, d.value);
      append(descriptors, d);
      if (!(fromGlobal && builtins !== undefined && SetPrototypeHas(builtins, r.keys[i]))) {
        follow(d.value, fromGlobal);
      }
    }
  }
  const chunks = compileChecks(targets, keys, values);
  const { global, globalChanged } = options;
  const shaped: ObjectRecord[] = [];
  for (let i = 0; i < records.length; i++) if (records[i].count !== -1) append(shaped, records[i]);

  return function restoreState(): void {
    for (let c = 0; c < chunks.length; c++) {
      const check = chunks[c].check;
      for (let i = check(chunks[c].first); i !== -1; i = check(i + 1)) {
        restoreProperty(targets[i], keys[i], descriptors[i]);
      }
    }
    for (let i = 0; i < shaped.length; i++) {
      if (shapeChanged(shaped[i]) || (shaped[i].target === global && globalChanged?.())) {
        restoreShape(shaped[i]);
      }
    }
    if (lexical !== undefined) {
      const now = lexical.read();
      for (let i = 0; i < lexicalValues.length; i++) {
        if (!sameValue(now[i], lexicalValues[i])) lexical.write(i, lexicalValues[i]);
      }
    }
  };
}
