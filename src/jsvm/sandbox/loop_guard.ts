/**
 * The runaway-code guard: rewrites plugin code so that every loop iteration and every function call first
 * calls `__tyk_tick()`, which throws once the host has given up on the call.
 *
 * Why: in Deno 2.9 `worker.terminate()` does not stop a Worker that is busy in JavaScript (a `while(true){}`
 * keeps its thread spinning for good; see denoland/deno#35657). A Worker can still end itself with
 * `close()`, so the sandbox makes runaway code give control back, then closes. The ticks go where a loop
 * or a function starts again:
 * - `while (c)` (also a do-while's tail) becomes `while (__tyk_tick(), c)`;
 * - `for (a; b; c)` becomes `for (a; __tyk_tick(), b; c)` (`for (;;)` becomes `for (;__tyk_tick(), true;)`);
 * - the body `{` of a `for…of`/`for…in` loop, of a function, method or arrow function gets `__tyk_tick();`.
 * Nothing is inserted across a line break, so line numbers stay as written. A `for…of` without braces
 * over an endless hand-written iterator whose `next` is a concise arrow is not covered.
 */

import {
  append,
  ArrayPrototypeJoin,
  SafeSet,
  SetPrototypeHas,
  StringPrototypeSlice,
} from "./_primordials.ts";
import {
  AMBIGUOUS_SLASH,
  DEAD,
  DIVIDE,
  EITHER_REGEX,
  EOF,
  HTML_CLOSE,
  HTML_OPEN,
  IDENT,
  lex,
  type LexState,
  lineEnd,
  positionAt,
  PUNCT,
  REGEX,
  type SourcePosition,
  SUBST_END,
  SUBST_OPEN,
  token,
  VALUE,
} from "./_tokenizer.ts";

/** The global instrumented code calls; plugin code may not use names that start with `__tyk_`. */
export const TICK = "__tyk_tick";

/** Why a source cannot be instrumented. */
export const RESERVED_NAME = 'names starting with "__tyk_" are reserved by the sandbox';

/** Instrumented code, or where the source uses a reserved name. */
export type Instrumented = { code: string; reserved: null } | { code: ""; reserved: SourcePosition };

/** What an open bracket is. */
interface Open {
  ch: number;
  /** For "(": the keyword before it ("for", "while", …), "params" for a function's, else "". */
  role: string;
  /** For a for-loop's "(": top-level semicolons seen (two means a classic `for (;;)`). */
  semis: number;
}

/** Keywords whose "(" is not a parameter list. */
const NOT_PARAMS = new SafeSet([
  "if",
  "switch",
  "catch",
  "with",
  "while",
  "for",
  "return",
  "typeof",
  "void",
  "delete",
  "new",
  "in",
  "of",
  "instanceof",
  "await",
  "yield",
  "case",
  "throw",
  "else",
  "do",
  "super",
  "import",
]);

const TICK_CALL = `${TICK}();`;
const TICK_THEN = `${TICK}(), `;

/**
 * Inserts the ticks into `code` (see the module doc); refuses code that names `__tyk_…` itself.
 * @example instrumentLoops("while (true) {}").code // "while (__tyk_tick(), true) {}"
 */
export function instrumentLoops(code: string): Instrumented {
  const parts: string[] = [];
  let copied = 0;
  const insert = (at: number, text: string) => {
    append(parts, StringPrototypeSlice(code, copied, at));
    append(parts, text);
    copied = at;
  };

  const st: LexState = { pos: 0, slash: REGEX, afterDot: false, braces: "", prev: 0 };
  if (StringPrototypeSlice(code, 0, 2) === "#!") st.pos = lineEnd(code, 0);
  const stack: Open[] = [];
  let keyword = ""; // the identifier just read ("." for a property name), which decides what a "(" is
  let prevCh = 0; // the previous token's character, when it was punctuation
  let closed: Open | null = null; // the "(" group that ended with the previous token
  let arrow = false; // the previous token ended "=>"
  let forSemicolon = -1; // where the first ";" of a classic for ended, until the next token is known
  // A body's tick waits for its directive prologue ("use strict"; must stay first): where it goes, and
  // whether the last token was a string that may be a directive.
  let bodyTick = -1;
  let directive = false;

  for (;;) {
    const kind = lex(code, st);
    if (kind === EOF || kind === DEAD) break;
    if (kind === AMBIGUOUS_SLASH) {
      st.slash = st.slash === EITHER_REGEX ? REGEX : DIVIDE;
      continue;
    }
    if (kind === HTML_OPEN || kind === HTML_CLOSE) {
      st.pos = lineEnd(code, st.pos);
      continue;
    }
    if (bodyTick !== -1) {
      const isString = kind === VALUE && (code[token.start] === '"' || code[token.start] === "'");
      if (!directive && isString) {
        directive = true;
        continue;
      }
      if (directive && kind === PUNCT && token.ch === 59) {
        bodyTick = st.pos; // after `"use strict";`, more directives may follow
        directive = false;
        continue;
      }
      insert(bodyTick, TICK_CALL);
      bodyTick = -1;
      directive = false;
    }
    if (forSemicolon !== -1) {
      // An empty condition (`for (;;)`) means true.
      if (kind === PUNCT && token.ch === 59) insert(forSemicolon, `${TICK}(), true`);
      else insert(token.start, TICK_THEN);
      forSemicolon = -1;
    }
    const wasClosed = closed;
    const wasArrow = arrow;
    const before = keyword;
    const beforeCh = prevCh;
    closed = null;
    arrow = false;
    keyword = "";
    prevCh = 0;

    if (kind === IDENT) {
      const name = token.name;
      if (StringPrototypeSlice(name, 0, 6) === "__tyk_") {
        return { code: "", reserved: positionAt(code, token.start) };
      }
      // "for await (" keeps the "for".
      keyword = name === "await" && before === "for" ? "for" : name === "" ? "." : name;
      continue;
    }
    if (kind === SUBST_OPEN) append(stack, { ch: 36, role: "", semis: 0 });
    else if (kind === SUBST_END) stack.length--;
    if (kind !== PUNCT) continue;

    const ch = token.ch;
    prevCh = ch;
    const top = stack.length > 0 ? stack[stack.length - 1] : null;
    if (ch === 40) {
      // A loop header, a parameter list (after a function or method name, `function`, `*` or `]`), or a group.
      let role = "";
      if (before === "for" || before === "while") role = before;
      else if (
        (before !== "" && before !== "." && !SetPrototypeHas(NOT_PARAMS, before)) || beforeCh === 42 ||
        beforeCh === 93
      ) {
        role = "params";
      }
      append(stack, { ch, role, semis: 0 });
      if (role === "while") insert(st.pos, TICK_THEN);
    } else if (ch === 41) {
      if (top !== null) {
        stack.length--;
        closed = top;
      }
    } else if (ch === 123) {
      const body = wasArrow ||
        (wasClosed !== null &&
          (wasClosed.role === "params" || (wasClosed.role === "for" && wasClosed.semis < 2)));
      if (body) bodyTick = st.pos;
      append(stack, { ch, role: "", semis: 0 });
    } else if (ch === 125 || ch === 93) {
      if (top !== null) stack.length--;
    } else if (ch === 91) {
      append(stack, { ch, role: "", semis: 0 });
    } else if (ch === 59) {
      if (top !== null && top.role === "for" && ++top.semis === 1) forSemicolon = st.pos;
    } else if (
      ch === 62 && beforeCh === 61 && StringPrototypeSlice(code, token.start - 1, token.start) === "="
    ) {
      arrow = true;
    }
  }
  if (copied === 0) return { code, reserved: null };
  append(parts, StringPrototypeSlice(code, copied));
  return { code: ArrayPrototypeJoin(parts, ""), reserved: null };
}
