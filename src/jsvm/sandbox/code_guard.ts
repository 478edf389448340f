/**
 * The code guard: every plugin source, the user library and every string given to `eval`/`Function` passes
 * through it before V8 compiles it. It parses the code with acorn and
 * - inserts a call of `__tyk_tick()` at every function entry and loop iteration (see _instrument.ts), which
 *   throws once the gateway has given up on the call: in Deno 2.9 `worker.terminate()` does not stop a
 *   thread that is busy in JavaScript, so runaway code must give control back by itself;
 * - refuses `import()`: a sandbox's dynamic import is not held to the Worker's permissions, so a plugin
 *   could read `tyk.conf` with `import("file:///…", { with: { type: "json" } })`;
 * - refuses names that start with `__tyk_`, which would shadow the tick.
 *
 * The parser and the instrumenter run in a realm of their own (a V8 context with its own built-ins), made
 * before any plugin code runs: a plugin that replaces `Array.prototype.push` or `String.prototype.slice`
 * cannot change what the guard sees in the code it builds at run time. Only strings cross between the
 * realms.
 */

import vm from "node:vm";
import { createInstrumenter, type InstrumentAnswer } from "./_instrument.ts";
import { JSONParse, ObjectHasOwn } from "./_primordials.ts";

/** The global function instrumented code calls. */
export const TICK = "__tyk_tick";

/** Names plugin code may not use. */
export const RESERVED_PREFIX = "__tyk_";

/** The message of a refused `import()`. */
export const IMPORT_FORBIDDEN = "dynamic import() is not allowed in a sandbox";

/** The message of a refused `__tyk_` name. */
export const RESERVED_NAME = `names starting with "${RESERVED_PREFIX}" are reserved by the sandbox`;

/** Guarded code, or why it was refused and where (1-based line and column). */
export type Guarded = InstrumentAnswer;

/** Whether the guard refused the code. */
export function isRefused(guarded: Guarded): guarded is Extract<Guarded, { refused: string }> {
  return ObjectHasOwn(guarded, "refused");
}

/**
 * Builds the guard in a fresh realm from the parser's source text (acorn's UMD build, which the host reads:
 * the sandbox itself has no file access).
 * @example
 * const guard = createCodeGuard(acornSource);
 * guard("while (true) {}") // { code: "while (true) {__tyk_tick();}", lexical: [] }
 * @throws {Error} when the parser source does not define `acorn`
 */
export function createCodeGuard(parserSource: string): (code: string) => Guarded {
  // An ordinary global object of its own: a contextified one would look names up on an object of the
  // sandbox's realm (and its prototype chain) first.
  const realm = vm.createContext(vm.constants.DONT_CONTEXTIFY);
  vm.runInContext(parserSource, realm, { filename: "<code guard parser>" });
  const instrument = vm.runInContext(
    `(${createInstrumenter.toString()})(acorn, ${JSON.stringify(TICK)}, ${JSON.stringify(RESERVED_PREFIX)})`,
    realm,
    { filename: "<code guard>" },
  ) as (code: string) => string;
  return function guard(code: string): Guarded {
    let answer: string;
    try {
      answer = instrument(code);
    } catch {
      // Only a stack overflow gets here (a deeply nested source); the error object stays unread.
      return { refused: "syntax", message: "the source is nested too deeply to check", line: 1, column: 1 };
    }
    return JSONParse(answer) as Guarded;
  };
}
