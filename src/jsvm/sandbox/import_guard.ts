/**
 * The import guard: finds an `import` keyword in plugin code, with a small JavaScript tokenizer.
 *
 * A sandbox's dynamic `import()` is checked against the gateway's permissions, not the Worker's, so a
 * plugin could read `tyk.conf` with `import("file:///…", { with: { type: "json" } })`. Every plugin source,
 * the user library and every string given to `eval`/`Function` is scanned, and one that holds `import`
 * (other than as a property name after `.`) is refused.
 *
 * Strings, template literals (with nested `${}`), comments and regular expression literals are skipped.
 * Where the tokenizer cannot tell a regex from a division (after `)`, `}`, `++`, contextual keywords) or an
 * HTML-like comment from code, it follows both readings and refuses the source if either sees `import`:
 * a guess can only reject too much, never let code through.
 */

import {
  append,
  SafeSet,
  SetPrototypeAdd,
  SetPrototypeHas,
  StringPrototypeIndexOf,
  StringPrototypeSlice,
} from "./_primordials.ts";
import {
  AMBIGUOUS_SLASH,
  copyState,
  DEAD,
  DIVIDE,
  EITHER_DIVIDE,
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
  stateKey,
  token,
} from "./_tokenizer.ts";

export { positionAt, type SourcePosition };

/** The message of a refused source. */
export const IMPORT_FORBIDDEN = "dynamic import() is not allowed in a sandbox";

/**
 * Finds the first `import` keyword that some reading of `code` treats as code (not a property name after
 * `.` or `?.`); null when there is none.
 *
 * When no reading of the source is valid JavaScript, or it is too ambiguous to follow within budget, the
 * first occurrence of the word counts: the caller refuses rather than guesses.
 * @example findImport('x = 1; import("file:///etc/passwd")') // { line: 1, column: 8 }
 */
export function findImport(code: string): SourcePosition | null {
  const first = StringPrototypeIndexOf(code, "import");
  const escaped = StringPrototypeIndexOf(code, "\\u");
  if (first === -1 && escaped === -1) return null;
  const fallback = positionAt(code, first === -1 ? escaped : first);

  const work: LexState[] = [{ pos: 0, slash: REGEX, afterDot: false, braces: "", prev: 0 }];
  if (StringPrototypeSlice(code, 0, 2) === "#!") append(work, copyState(work[0], lineEnd(code, 0), REGEX));
  const seen = new SafeSet<string>();
  let budget = 32 * code.length + 10_000;
  let valid = false;

  /** Records a state; false when another reading already got there (the rest is the same). */
  const visit = (st: LexState) => {
    const key = stateKey(st);
    if (SetPrototypeHas(seen, key)) return false;
    SetPrototypeAdd(seen, key);
    return true;
  };

  while (work.length > 0) {
    const st = work[work.length - 1];
    work.length--;
    for (;;) {
      if (--budget < 0) return fallback;
      const kind = lex(code, st);
      if (kind === EOF) {
        valid = true;
        break;
      }
      if (kind === DEAD) break;
      if (kind === IDENT && token.name === "import") return positionAt(code, token.start);
      if (kind === AMBIGUOUS_SLASH) {
        // Follow the regex reading later; continue here as a division.
        const asRegex = copyState(st, st.pos, REGEX);
        if (visit(asRegex)) append(work, asRegex);
        st.slash = DIVIDE;
      } else if (kind === HTML_OPEN || kind === HTML_CLOSE) {
        const asComment = copyState(st, lineEnd(code, st.pos), st.slash);
        if (visit(asComment)) append(work, asComment);
        st.pos += kind === HTML_OPEN ? 1 : 2;
        st.slash = kind === HTML_OPEN ? REGEX : EITHER_DIVIDE;
      } else if (kind === PUNCT && token.ch === 59 && !visit(st)) {
        break; // readings meet again after a ";"
      }
    }
  }
  return valid ? null : fallback;
}
