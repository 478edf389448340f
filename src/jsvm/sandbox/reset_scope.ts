/**
 * What the sandbox puts back after every call (see state_reset.ts), in one place for the worker and the
 * benchmark that measures it.
 */
import _ from "underscore";
import type { TykNamespace } from "./bootstrap.ts";
import { ArrayPrototype, ObjectPrototype } from "./_primordials.ts";

/** Prototypes whose added properties are deleted after each call (they change what JSON.stringify writes). */
export const RESET_ROOTS: readonly object[] = [
  ObjectPrototype,
  ArrayPrototype,
  String.prototype,
  Number.prototype,
  Boolean.prototype,
];

/**
 * Every object whose replaced members are put back: the built-ins (see builtin_lock.ts), underscore and the
 * Tyk bootstrap.
 */
export function resetTracked(tyk: TykNamespace, builtins: readonly object[]): object[] {
  return [...builtins, ...bootstrapObjects(tyk)];
}

/** The objects the sandbox gives plugins besides the built-ins: underscore and the Tyk bootstrap. */
export function bootstrapObjects(tyk: TykNamespace): object[] {
  const { TykMiddleware, TykEventHandlers } = tyk.TykJS as Record<string, object>;
  return [_, tyk.TykJS, TykMiddleware, TykEventHandlers, ...tyk.prototypes];
}
