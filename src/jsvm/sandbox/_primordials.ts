/**
 * Built-ins saved when the sandbox starts, before any plugin code runs, so that a plugin replacing
 * `JSON.parse`, `String.prototype.split` or `Array.prototype.push` cannot change what the sandbox's own
 * code does. Methods are "uncurried": `StringPrototypeSlice(s, 1)` instead of `s.slice(1)`.
 *
 * Code that runs after a plugin's call and only shapes that plugin's own result (the `jsvm/go/` helpers,
 * used by `request_hook.ts` and `hook_result.ts`) may use built-ins directly: built-ins a plugin replaces
 * are put back after each call, and the gateway checks whatever comes back.
 */

const { apply, bind, call } = Function.prototype;

/** Turns a method into a function that takes its receiver first and ignores later prototype changes. */
// deno-lint-ignore no-explicit-any
function uncurryThis<T, A extends any[], R>(fn: (this: T, ...args: A) => R): (self: T, ...args: A) => R {
  return apply.call(bind, call, [fn]) as (self: T, ...args: A) => R;
}

export const ReflectApply = Reflect.apply;
export const ReflectConstruct = Reflect.construct;
export const ReflectOwnKeys = Reflect.ownKeys;
export const ReflectDefineProperty = Reflect.defineProperty;
export const ReflectDeleteProperty = Reflect.deleteProperty;
export const ReflectGetPrototypeOf = Reflect.getPrototypeOf;
export const ReflectSetPrototypeOf = Reflect.setPrototypeOf;

export const ObjectGetOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
export const ObjectHasOwn = Object.hasOwn;
export const ObjectKeys = Object.keys;
export const ObjectCreate = Object.create;
export const ObjectPrototype = Object.prototype;
export const ArrayPrototype = Array.prototype;
export const ArrayIsArray = Array.isArray;

export const JSONParse = JSON.parse;
export const JSONStringify = JSON.stringify;
export const SafeString = String;
export const SafeNumber = Number;
export const OriginalFunction = Function;
export const SafeProxy = Proxy;
export const SafeMap = Map;
export const SafeSet = Set;
export const SafeError = Error;
export const SafeSyntaxError = SyntaxError;
export const SafeTypeError = TypeError;
export const SafePromise = Promise;
export const PromiseResolve = Promise.resolve.bind(Promise);
export const PromisePrototypeThen = uncurryThis(Promise.prototype.then) as <T, R>(
  self: Promise<T>,
  onFulfilled: (value: T) => R,
  onRejected?: (reason: unknown) => R,
) => Promise<R>;

export const StringPrototypeCharCodeAt = uncurryThis(String.prototype.charCodeAt);
export const StringPrototypeCodePointAt = uncurryThis(String.prototype.codePointAt);
export const StringPrototypeSlice = uncurryThis(String.prototype.slice);
export const StringPrototypeIsWellFormed = uncurryThis(String.prototype.isWellFormed);
export const StringPrototypeIndexOf = uncurryThis(String.prototype.indexOf);
export const StringPrototypeSplit = uncurryThis(
  String.prototype.split as (this: string, separator: string) => string[],
);
export const StringFromCodePoint = String.fromCodePoint;
export const StringFromCharCode = String.fromCharCode;
export const NumberParseInt = Number.parseInt;
export const ArrayPrototypeJoin = uncurryThis(Array.prototype.join);
export const RegExpPrototypeExec = uncurryThis(RegExp.prototype.exec);
export const RegExpPrototypeTest = uncurryThis(RegExp.prototype.test);
export const MapPrototypeGet = uncurryThis(Map.prototype.get) as <K, V>(
  self: Map<K, V>,
  key: K,
) => V | undefined;
export const MapPrototypeSet = uncurryThis(Map.prototype.set) as <K, V>(
  self: Map<K, V>,
  key: K,
  value: V,
) => Map<K, V>;
export const MapPrototypeHas = uncurryThis(Map.prototype.has) as <K, V>(self: Map<K, V>, key: K) => boolean;
export const SetPrototypeHas = uncurryThis(Set.prototype.has) as <T>(self: Set<T>, value: T) => boolean;
export const SetPrototypeAdd = uncurryThis(Set.prototype.add) as <T>(self: Set<T>, value: T) => Set<T>;

export const SharedArrayBufferPrototypeGrow = uncurryThis(SharedArrayBuffer.prototype.grow);

export const AtomicsWait = Atomics.wait;
export const AtomicsLoad = Atomics.load;
export const AtomicsStore = Atomics.store;
export const AtomicsAdd = Atomics.add;
export const AtomicsNotify = Atomics.notify;
export const PerformanceNow = performance.now.bind(performance);
export const SafeInt32Array = Int32Array;
export const SafeUint8Array = Uint8Array;
export const SafeUint16Array = Uint16Array;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true });
const encode = uncurryThis(TextEncoder.prototype.encode);
const encodeIntoBytes = uncurryThis(TextEncoder.prototype.encodeInto);
const decode = uncurryThis(TextDecoder.prototype.decode);

/** UTF-8 bytes of a string. */
export function utf8Encode(text: string): Uint8Array {
  return encode(textEncoder, text);
}

/** Writes a string's UTF-8 bytes into `bytes` (a view on shared memory is fine); what it read and wrote. */
export function utf8EncodeInto(text: string, bytes: Uint8Array): { read: number; written: number } {
  return encodeIntoBytes(textEncoder, text, bytes);
}

/** A string from UTF-8 bytes; invalid sequences become U+FFFD. Accepts views on shared memory. */
export function utf8Decode(bytes: Uint8Array): string {
  return decode(textDecoder, bytes);
}

/** A string from UTF-8 bytes, or `null` when they are not valid UTF-8. */
export function utf8DecodeStrict(bytes: Uint8Array): string | null {
  try {
    return decode(strictDecoder, bytes);
  } catch {
    return null;
  }
}

/** Appends to an array without `push` or index setters a plugin may have put on `Array.prototype`. */
export function append<T>(list: T[], value: T): void {
  ReflectDefineProperty(list, list.length, {
    __proto__: null,
    value,
    writable: true,
    enumerable: true,
    configurable: true,
  } as PropertyDescriptor);
}
