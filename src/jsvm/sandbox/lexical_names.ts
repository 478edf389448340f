/**
 * Finds the names a plugin script declares at its top level with `let`, `const` or `class`, with the same
 * tokenizer as the import guard. Such bindings are not properties of the global object, so the state reset
 * cannot find them by walking it.
 */

import { append, SafeSet, SetPrototypeAdd, SetPrototypeHas, StringPrototypeSlice } from "./_primordials.ts";
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
  PUNCT,
  REGEX,
  SUBST_END,
  SUBST_OPEN,
  token,
} from "./_tokenizer.ts";

/**
 * Names declared at the top level of a script by `let`, `const` or `class` (best effort: destructuring
 * patterns and later names in a list are missed). Script-level lexical bindings are not properties of
 * the global object, so the state reset needs their names.
 */
export function topLevelLexicalNames(code: string): string[] {
  const names: string[] = [];
  const found = new SafeSet<string>();
  const st: LexState = { pos: 0, slash: REGEX, afterDot: false, braces: "", prev: 0 };
  if (StringPrototypeSlice(code, 0, 2) === "#!") st.pos = lineEnd(code, 0);
  let depth = 0;
  let declaring = false;
  for (;;) {
    const kind = lex(code, st);
    if (kind === EOF || kind === DEAD) return names;
    if (kind === AMBIGUOUS_SLASH) {
      st.slash = st.slash === EITHER_REGEX ? REGEX : DIVIDE;
      continue;
    }
    if (kind === HTML_OPEN || kind === HTML_CLOSE) {
      st.pos = lineEnd(code, st.pos);
      continue;
    }
    if (kind === IDENT && depth === 0 && token.name !== "") {
      if (declaring && !SetPrototypeHas(found, token.name)) {
        SetPrototypeAdd(found, token.name);
        append(names, token.name);
      }
      declaring = token.name === "let" || token.name === "const" || token.name === "class";
      continue;
    }
    declaring = false;
    if (kind === SUBST_OPEN) depth++;
    else if (kind === SUBST_END) depth--;
    else if (kind === PUNCT && (token.ch === 123 || token.ch === 40 || token.ch === 91)) depth++;
    else if (kind === PUNCT && (token.ch === 125 || token.ch === 41 || token.ch === 93)) depth--;
  }
}
