/**
 * The small JavaScript tokenizer the code guards share. It reads tokens one at a time from a copyable
 * state, so a caller can follow two readings of an ambiguous "/" (regex or division) or HTML-like comment.
 * It knows strings, template literals with nested `${}`, comments, regex literals, numbers, identifiers
 * (with `\u` escapes resolved) and punctuation; it does not parse.
 */

import {
  NumberParseInt,
  RegExpPrototypeExec,
  SafeSet,
  SetPrototypeHas,
  StringFromCodePoint,
  StringPrototypeCharCodeAt,
  StringPrototypeCodePointAt,
  StringPrototypeIndexOf,
  StringPrototypeSlice,
} from "./_primordials.ts";

// What a "/" means at the current position.
export const REGEX = 0;
export const DIVIDE = 1;
export const EITHER_REGEX = 2; // ambiguous; a single reading guesses regex
export const EITHER_DIVIDE = 3; // ambiguous; a single reading guesses division

/** Where the tokenizer is; copy it to follow another reading. */
export interface LexState {
  pos: number;
  slash: number;
  afterDot: boolean;
  /**
   * One character per open brace: "t" a template substitution `${`, "e" an object literal (a "/" after
   * its "}" divides), "u" a block or anything not known for sure (a "/" after its "}" is ambiguous).
   */
  braces: string;
  /** The previous token if it was punctuation (its first character code), else 0. */
  prev: number;
}

/** Punctuation after which "{" can only open an object literal (never a block or function body). */
const EXPRESSION_BEFORE_BRACE = new SafeSet([61, 40, 44, 91, 63, 43, 45, 42, 37, 38, 124, 94, 33, 126, 60]);

export const EOF = 0;
export const DEAD = 1; // this reading is not valid JavaScript (unterminated string, comment, regex, template)
export const IDENT = 2;
export const VALUE = 3;
export const PUNCT = 4;
export const AMBIGUOUS_SLASH = 5;
export const HTML_OPEN = 6; // "<!--"
export const HTML_CLOSE = 7; // "-->"
export const SUBST_OPEN = 8; // "`…${"
export const SUBST_NEXT = 9; // "}…${"
export const SUBST_END = 10; // "}…`"

/** The last token read (the tokenizer is synchronous, so one shared record is enough). */
export const token = { start: 0, name: "", ch: 0 };

const IDENT_RE =
  /#?(?:[\p{ID_Start}$_]|\\u[0-9a-fA-F]{4}|\\u\{[0-9a-fA-F]+\})(?:[\p{ID_Continue}$\u200C\u200D]|\\u[0-9a-fA-F]{4}|\\u\{[0-9a-fA-F]+\})*/uy;
const NUMBER_RE =
  /(?:0[xX][0-9a-fA-F_]*|0[oO][0-7_]*|0[bB][01_]*|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?[\d_]+)?)n?/y;
const ESCAPE_RE = /\\u(?:\{([0-9a-fA-F]+)\}|([0-9a-fA-F]{4}))/y;
const SPACE_RE = /\p{Zs}/u;

/** Keywords after which "/" starts a regex. */
const REGEX_AFTER = new SafeSet([
  "return",
  "typeof",
  "instanceof",
  "in",
  "new",
  "delete",
  "void",
  "throw",
  "case",
  "do",
  "else",
  "extends",
]);
/** Words that are keywords or identifiers depending on context. */
const CONTEXTUAL = new SafeSet([
  "yield",
  "await",
  "of",
  "let",
  "async",
  "static",
  "get",
  "set",
  "as",
  "from",
]);

/** Whether `c` ends a line in JavaScript. */
export function isLineTerminator(c: number): boolean {
  return c === 10 || c === 13 || c === 0x2028 || c === 0x2029;
}

function isSpace(code: string, c: number, pos: number): boolean {
  if (c === 32 || c === 9 || c === 11 || c === 12 || c === 0xa0 || c === 0xfeff) return true;
  if (c < 128) return false;
  const cp = StringPrototypeCodePointAt(code, pos) ?? 0;
  return cp < 0x10000 && RegExpPrototypeExec(SPACE_RE, code[pos]) !== null;
}

/** Index of the next line terminator at or after `pos` (or the end). */
export function lineEnd(code: string, pos: number): number {
  while (pos < code.length && !isLineTerminator(StringPrototypeCharCodeAt(code, pos))) pos++;
  return pos;
}

/** Skips white space and comments; false when a block comment never ends. */
function skipTrivia(code: string, st: LexState): boolean {
  let pos = st.pos;
  while (pos < code.length) {
    const c = StringPrototypeCharCodeAt(code, pos);
    if (isLineTerminator(c) || isSpace(code, c, pos)) {
      pos++;
    } else if (c === 47 && StringPrototypeCharCodeAt(code, pos + 1) === 47) {
      pos = lineEnd(code, pos + 2);
    } else if (c === 47 && StringPrototypeCharCodeAt(code, pos + 1) === 42) {
      const end = StringPrototypeIndexOf(code, "*/", pos + 2);
      if (end === -1) return false;
      pos = end + 2;
    } else {
      break;
    }
  }
  st.pos = pos;
  return true;
}

/** End of a '…' or "…" string starting at `pos`, or -1. */
function scanString(code: string, pos: number, quote: number): number {
  for (let i = pos + 1; i < code.length; i++) {
    const c = StringPrototypeCharCodeAt(code, i);
    if (c === quote) return i + 1;
    if (c === 92) {
      // An escaped "\r\n" is one line continuation.
      if (StringPrototypeCharCodeAt(code, i + 1) === 13 && StringPrototypeCharCodeAt(code, i + 2) === 10) i++;
      i++;
    } else if (c === 10 || c === 13) {
      return -1;
    }
  }
  return -1;
}

/** Scans template characters from `pos` (just after "`" or a substitution's "}"); -1 when unterminated. */
function scanTemplate(code: string, pos: number, st: LexState): number {
  for (let i = pos; i < code.length; i++) {
    const c = StringPrototypeCharCodeAt(code, i);
    if (c === 92) {
      i++;
    } else if (c === 96) {
      st.pos = i + 1;
      return 0;
    } else if (c === 36 && StringPrototypeCharCodeAt(code, i + 1) === 123) {
      st.pos = i + 2;
      st.braces += "t";
      st.prev = 40; // an expression follows, as after "("
      return 1;
    }
  }
  return -1;
}

/** End of a regex literal starting at `pos` (on its "/"), flags included, or -1. */
function scanRegex(code: string, pos: number): number {
  let inClass = false;
  for (let i = pos + 1; i < code.length; i++) {
    const c = StringPrototypeCharCodeAt(code, i);
    if (isLineTerminator(c)) return -1;
    if (c === 92) {
      if (i + 1 >= code.length || isLineTerminator(StringPrototypeCharCodeAt(code, i + 1))) return -1;
      i++;
    } else if (c === 91) {
      inClass = true;
    } else if (c === 93) {
      inClass = false;
    } else if (c === 47 && !inClass) {
      IDENT_RE.lastIndex = i + 1;
      const flags = RegExpPrototypeExec(IDENT_RE, code);
      return flags === null ? i + 1 : i + 1 + flags[0].length;
    }
  }
  return -1;
}

/** An identifier's value with `\u` escapes resolved, so `\u0069mport` is seen as `import`. */
function identifierName(text: string): string {
  if (StringPrototypeIndexOf(text, "\\") === -1) return text;
  let out = "";
  let i = 0;
  while (i < text.length) {
    ESCAPE_RE.lastIndex = i;
    const m = RegExpPrototypeExec(ESCAPE_RE, text);
    if (m !== null && m.index === i) {
      const cp = NumberParseInt(m[1] ?? m[2], 16);
      out += cp <= 0x10ffff ? StringFromCodePoint(cp) : "\uFFFD";
      i += m[0].length;
    } else {
      out += text[i++];
    }
  }
  return out;
}

function isIdentifierStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 36 || c === 95 || c === 92 || c === 35 ||
    c >= 128;
}

/** Reads one token and advances `st`; returns its kind (see the constants above). */
export function lex(code: string, st: LexState): number {
  if (!skipTrivia(code, st)) return DEAD;
  const pos = st.pos;
  token.start = pos;
  if (pos >= code.length) return EOF;
  const c = StringPrototypeCharCodeAt(code, pos);
  const next = StringPrototypeCharCodeAt(code, pos + 1);
  const afterDot = st.afterDot;
  const prev = st.prev;
  st.afterDot = false;
  st.prev = 0;

  if (isIdentifierStart(c)) {
    IDENT_RE.lastIndex = pos;
    const m = RegExpPrototypeExec(IDENT_RE, code);
    if (m !== null) {
      st.pos = pos + m[0].length;
      const name = identifierName(m[0]);
      token.name = afterDot ? "" : name;
      st.slash = afterDot
        ? DIVIDE
        : SetPrototypeHas(REGEX_AFTER, name)
        ? REGEX
        : SetPrototypeHas(CONTEXTUAL, name)
        ? (name === "yield" || name === "await" ? EITHER_REGEX : EITHER_DIVIDE)
        : DIVIDE;
      return IDENT;
    }
  }
  if ((c >= 48 && c <= 57) || (c === 46 && next >= 48 && next <= 57)) {
    NUMBER_RE.lastIndex = pos;
    const m = RegExpPrototypeExec(NUMBER_RE, code);
    st.pos = pos + (m === null ? 1 : m[0].length);
    st.slash = DIVIDE;
    return VALUE;
  }
  if (c === 34 || c === 39) {
    const end = scanString(code, pos, c);
    if (end === -1) return DEAD;
    st.pos = end;
    st.slash = DIVIDE;
    return VALUE;
  }
  if (c === 96) {
    const kind = scanTemplate(code, pos + 1, st);
    if (kind === -1) return DEAD;
    st.slash = kind === 0 ? DIVIDE : REGEX;
    return kind === 0 ? VALUE : SUBST_OPEN;
  }
  if (c === 47) {
    if (st.slash === DIVIDE) {
      st.pos = pos + 1;
      st.slash = REGEX;
      st.prev = token.ch = c;
      return PUNCT;
    }
    if (st.slash !== REGEX) {
      st.prev = prev;
      return AMBIGUOUS_SLASH;
    }
    const end = scanRegex(code, pos);
    if (end === -1) return DEAD;
    st.pos = end;
    st.slash = DIVIDE;
    return VALUE;
  }
  if (c === 60 && StringPrototypeSlice(code, pos, pos + 4) === "<!--") return HTML_OPEN;
  if (c === 45 && StringPrototypeSlice(code, pos, pos + 3) === "-->") return HTML_CLOSE;
  let closed = "u";
  if (c === 125) {
    closed = st.braces.length > 0 ? st.braces[st.braces.length - 1] : "u";
    st.braces = StringPrototypeSlice(st.braces, 0, -1);
    if (closed === "t") {
      const kind = scanTemplate(code, pos + 1, st);
      if (kind === -1) return DEAD;
      st.slash = kind === 0 ? DIVIDE : REGEX;
      return kind === 0 ? SUBST_END : SUBST_NEXT;
    }
  } else if (c === 123) {
    st.braces += SetPrototypeHas(EXPRESSION_BEFORE_BRACE, prev) ? "e" : "u";
  }
  st.prev = token.ch = c;
  if (c === 46) {
    if (next === 46 && StringPrototypeCharCodeAt(code, pos + 2) === 46) {
      st.pos = pos + 3;
    } else {
      st.pos = pos + 1;
      st.afterDot = true;
    }
    st.slash = REGEX;
    return PUNCT;
  }
  if (c === 63 && next === 46) {
    const third = StringPrototypeCharCodeAt(code, pos + 2);
    if (!(third >= 48 && third <= 57)) {
      st.pos = pos + 2;
      st.afterDot = true;
      st.slash = REGEX;
      return PUNCT;
    }
  }
  if ((c === 43 || c === 45) && next === c) {
    st.pos = pos + 2;
    st.slash = EITHER_DIVIDE;
    return PUNCT;
  }
  st.pos = pos + 1;
  st.slash = c === 41
    ? EITHER_DIVIDE
    : c === 125
    ? (closed === "e" ? DIVIDE : EITHER_REGEX)
    : c === 93
    ? DIVIDE
    : REGEX;
  return PUNCT;
}

/** A copy of `st` at `pos` with `slash`, for another reading. */
export function copyState(st: LexState, pos: number, slash: number): LexState {
  return { pos, slash, afterDot: false, braces: st.braces, prev: st.prev };
}

/** Identifies a state: two readings in the same state read the rest alike. */
export function stateKey(st: LexState): string {
  return `${st.pos}:${st.slash}:${st.afterDot ? 1 : 0}:${st.prev}:${st.braces}`;
}

/** A 1-based position in a source. */
export interface SourcePosition {
  line: number;
  column: number;
}

/** 1-based line and column of `index`; "\r\n", "\r", "\n", U+2028 and U+2029 end a line, as in V8. */
export function positionAt(code: string, index: number): SourcePosition {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < index && i < code.length; i++) {
    const c = StringPrototypeCharCodeAt(code, i);
    if (c === 13 && StringPrototypeCharCodeAt(code, i + 1) === 10) continue;
    if (isLineTerminator(c)) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: index - lineStart + 1 };
}
