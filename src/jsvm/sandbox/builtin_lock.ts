/**
 * Built-in objects every call shares, locked so that the per-call reset (state_reset.ts) can be complete
 * without listing every key of every built-in after each call (that would cost hundreds of microseconds).
 *
 * Before any plugin code runs, the sandbox collects every object reachable from the ECMAScript globals it
 * keeps (constructors, prototypes, namespaces such as `Math`, and the hidden ones: iterator, generator and
 * typed-array prototypes). Once the plugins have loaded (their polyfills are in), `lock()` seals them: a
 * call can still reassign a method (`Date.now = …`, put back after the call like any global), but it cannot
 * add a property (string or symbol keyed, enumerable or not), delete one, or turn one into an accessor.
 * `Object.defineProperty` and its relatives refuse the one change sealing allows and a reset could not undo
 * (making a property read-only), and a new property on the global object is always deletable, so the
 * reset can remove it.
 */

import {
  append,
  ObjectGetOwnPropertyDescriptor,
  ObjectHasOwn,
  ReflectApply,
  ReflectDefineProperty,
  ReflectGetPrototypeOf,
  ReflectOwnKeys,
  SafeSet,
  SafeString,
  SafeTypeError,
  SetPrototypeAdd,
  SetPrototypeHas,
} from "./_primordials.ts";

const ObjectSeal = Object.seal;
const DESCRIPTOR_FIELDS = ["enumerable", "configurable", "value", "writable", "get", "set"] as const;
const ObjectGetOwnPropertySymbols = Object.getOwnPropertySymbols;

/** Objects only syntax reaches: what these make have prototypes no global names. */
function hiddenIntrinsics(): object[] {
  const gen = function* () {};
  const asyncGen = async function* () {};
  return [
    gen,
    gen(),
    asyncGen,
    asyncGen(),
    async function () {},
    [][Symbol.iterator](),
    new Map()[Symbol.iterator](),
    new Set()[Symbol.iterator](),
    ""[Symbol.iterator](),
    /x/[Symbol.matchAll]("x"),
    Iterator.from({ next: () => ({ done: true, value: undefined }) }),
    [].values().map((x) => x),
    new Intl.Segmenter().segment("x"),
    new Intl.Segmenter().segment("x")[Symbol.iterator](),
  ];
}

/** What the lock gives the sandbox. */
export interface BuiltinLock {
  /** Every built-in object found before plugin code ran (their replaced members are put back per call). */
  readonly objects: readonly object[];
  /** Seals the built-ins and `extra` (the sandbox's own objects plugins use, e.g. underscore). */
  lock(extra: readonly object[]): void;
  /**
   * Whether the global object got a property `Object.keys` does not count (non-enumerable or symbol
   * keyed) since the last time this answered true.
   */
  globalChanged(): boolean;
}

/**
 * Collects the built-ins reachable from `global` and guards the functions that could make a change a reset
 * cannot undo. Call it after the global scope is hardened and before any plugin code runs.
 */
export function guardBuiltins(global: object): BuiltinLock {
  const found = new SafeSet<object>();
  const objects: object[] = [];
  const visit = (value: unknown) => {
    if ((typeof value !== "object" || value === null) && typeof value !== "function") return;
    if (value === global || SetPrototypeHas(found, value as object)) return;
    SetPrototypeAdd(found, value as object);
    append(objects, value as object);
  };
  const keys = ReflectOwnKeys(global);
  for (let i = 0; i < keys.length; i++) {
    const d = ObjectGetOwnPropertyDescriptor(global, keys[i])!;
    visit(ObjectHasOwn(d, "value") ? d.value : d.get);
  }
  const hidden = hiddenIntrinsics();
  for (let i = 0; i < hidden.length; i++) visit(ReflectGetPrototypeOf(hidden[i]));
  // every property and prototype of what was found, all the way down
  for (let o = 0; o < objects.length; o++) {
    const target = objects[o];
    visit(ReflectGetPrototypeOf(target));
    const own = ReflectOwnKeys(target);
    for (let i = 0; i < own.length; i++) {
      const d = ObjectGetOwnPropertyDescriptor(target, own[i])!;
      if (ObjectHasOwn(d, "value")) visit(d.value);
      else {
        visit(d.get);
        visit(d.set);
      }
    }
  }

  let locked = false;
  const sealed = new SafeSet<object>();
  let globalDirty = false;
  let globalSymbols = ObjectGetOwnPropertySymbols(global).length;

  /**
   * The descriptor as `Object.defineProperty` reads it, each field read once (a getter on the descriptor
   * cannot answer one thing here and another to V8). Refuses a change sealing allows but a reset cannot
   * undo, and makes a new property of the global object deletable.
   */
  const check = (target: unknown, key: PropertyKey, given: PropertyDescriptor): PropertyDescriptor => {
    if (!locked || typeof given !== "object" || given === null) return given;
    const descriptor = { __proto__: null } as PropertyDescriptor;
    for (let i = 0; i < DESCRIPTOR_FIELDS.length; i++) {
      const field = DESCRIPTOR_FIELDS[i];
      if (field in given) (descriptor as Record<string, unknown>)[field] = given[field];
    }
    if (SetPrototypeHas(sealed, target as object) && descriptor.writable === false) {
      throw new SafeTypeError(
        `Cannot make ${
          SafeString(key)
        } of a built-in object read-only: every call of the JS sandbox shares it`,
      );
    }
    if (target === global && ObjectGetOwnPropertyDescriptor(global, key) === undefined) {
      globalDirty = true;
      descriptor.configurable = true; // or the reset could not take it away
    }
    return descriptor;
  };
  const refuseWhole = (target: unknown, what: string) => {
    if (locked && (target === global || SetPrototypeHas(sealed, target as object))) {
      throw new SafeTypeError(`Cannot ${what} a built-in object: every call of the JS sandbox shares it`);
    }
  };

  const O = Object as unknown as Record<string, (...args: unknown[]) => unknown>;
  const R = Reflect as unknown as Record<string, (...args: unknown[]) => unknown>;
  const defineProperty = O.defineProperty;
  const defineProperties = O.defineProperties;
  const reflectDefine = R.defineProperty;
  const freeze = O.freeze;
  const seal = O.seal;
  const preventExtensions = O.preventExtensions;
  const reflectPrevent = R.preventExtensions;
  const guarded: Record<string, (...args: never[]) => unknown>[] = [
    {
      defineProperty(target: unknown, key: PropertyKey, descriptor: PropertyDescriptor) {
        return ReflectApply(defineProperty, O, [target, key, check(target, key, descriptor)]);
      },
      defineProperties(target: unknown, properties: Record<PropertyKey, PropertyDescriptor>) {
        if (locked && typeof properties === "object" && properties !== null) {
          const names = ReflectOwnKeys(properties);
          const checked: Record<PropertyKey, PropertyDescriptor> = {};
          for (let i = 0; i < names.length; i++) {
            checked[names[i]] = check(target, names[i], properties[names[i]]);
          }
          return ReflectApply(defineProperties, O, [target, checked]);
        }
        return ReflectApply(defineProperties, O, [target, properties]);
      },
      freeze(target: unknown) {
        refuseWhole(target, "freeze");
        return ReflectApply(freeze, O, [target]);
      },
      seal(target: unknown) {
        refuseWhole(target, "seal");
        return ReflectApply(seal, O, [target]);
      },
      preventExtensions(target: unknown) {
        refuseWhole(target, "prevent extensions of");
        return ReflectApply(preventExtensions, O, [target]);
      },
    },
    {
      defineProperty(target: unknown, key: PropertyKey, descriptor: PropertyDescriptor) {
        try {
          return ReflectApply(reflectDefine, R, [target, key, check(target, key, descriptor)]);
        } catch (error) {
          if (error instanceof SafeTypeError && locked) return false; // Reflect answers false instead
          throw error;
        }
      },
      preventExtensions(target: unknown) {
        refuseWhole(target, "prevent extensions of");
        return ReflectApply(reflectPrevent, R, [target]);
      },
    },
  ];
  const owners = [O, R];
  for (let o = 0; o < owners.length; o++) {
    const names = ReflectOwnKeys(guarded[o]);
    for (let i = 0; i < names.length; i++) {
      const fn = guarded[o][names[i] as string];
      ReflectDefineProperty(owners[o], names[i], {
        __proto__: null,
        value: fn,
        writable: true,
        enumerable: false,
        configurable: true,
      } as PropertyDescriptor);
      append(objects, fn);
    }
  }

  return {
    objects,
    lock(extra) {
      for (let i = 0; i < objects.length; i++) {
        ObjectSeal(objects[i]);
        SetPrototypeAdd(sealed, objects[i]);
      }
      for (let i = 0; i < extra.length; i++) {
        ObjectSeal(extra[i]);
        SetPrototypeAdd(sealed, extra[i]);
      }
      globalSymbols = ObjectGetOwnPropertySymbols(global).length;
      locked = true;
    },
    globalChanged() {
      const symbols = ObjectGetOwnPropertySymbols(global).length;
      if (!globalDirty && symbols === globalSymbols) return false;
      globalDirty = false;
      return true;
    },
  };
}
