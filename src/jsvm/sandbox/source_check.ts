/**
 * What a sandbox refuses in a source before any of it runs: what the code guard refuses (syntax errors,
 * `import()`, names starting with `__tyk_`), export names that are not JavaScript names, and code V8 does
 * not compile.
 *
 * `loadSources` applies these rules as it evaluates each source; `checkSource` applies them without running
 * anything (it only parses and compiles), so the host can report a broken plugin when its API loads, although
 * the API's sandbox starts only at its first JS call.
 */

import type { LoadIssue, SandboxSource } from "../protocol.ts";
import { compileScript } from "./_evaluate.ts";
import { type Guarded, isRefused } from "./code_guard.ts";
import {
  append,
  OriginalFunction,
  RegExpPrototypeTest,
  SafeString,
  SafeSyntaxError,
  StringPrototypeIndexOf,
  StringPrototypeSlice,
  StringPrototypeSplit,
} from "./_primordials.ts";

/** A name a call may target or a file may export: an identifier or a dotted path of identifiers. */
export const TARGET_RE =
  /^[\p{ID_Start}$_][\p{ID_Continue}$\u200C\u200D]*(?:\.[\p{ID_Start}$_][\p{ID_Continue}$\u200C\u200D]*)*$/u;

/** Head of a wrapped `javascript` middleware source; kept on line 1 so line numbers do not move. */
const WRAP_HEAD = "(function(){";

/** The load issue of a source the code guard refused, at the line and column it names. */
export function refusedIssue(file: string, refused: Extract<Guarded, { refused: string }>): LoadIssue {
  const message = refused.refused === "syntax" ? `SyntaxError: ${refused.message}` : refused.message;
  return { file, message, line: refused.line, column: refused.column };
}

/**
 * The `javascript` driver's form of a middleware file: its (guarded) code inside a function that returns the
 * values of `names`, in order, each `undefined` when it is not defined.
 */
export function wrappedText(code: string, names: readonly string[]): string {
  let tail = "\n;return [";
  for (let i = 0; i < names.length; i++) tail += `(function(){try{return ${names[i]}}catch{}})(),`;
  return WRAP_HEAD + code + tail + "];\n})";
}

/** The message of an export name that cannot be one. */
export function badExportMessage(name: string): string {
  return `Cannot export "${name}": not a JavaScript name`;
}

/** The text of an exception, without letting a hostile `toString` escape. */
export function errorText(error: unknown): string {
  try {
    return SafeString(error);
  } catch {
    return "exception (cannot be converted to a string)";
  }
}

function syntaxMessage(text: string): string | null {
  try {
    new OriginalFunction(text); // parses only, never runs
    return null;
  } catch (error) {
    return error instanceof SafeSyntaxError ? (error as Error).message : null;
  }
}

/**
 * The line of a syntax error, which V8 does not report for evaluated code: the shortest prefix of whole
 * lines that fails with the same message ends on it.
 */
export function syntaxErrorLine(code: string, message: string): number | undefined {
  const lines = StringPrototypeSplit(code, "\n");
  if (syntaxMessage(code) !== message) return undefined;
  if (StringPrototypeIndexOf(message, "end of input") !== -1) return lines.length;
  const starts: number[] = [0];
  for (let i = 0, at = 0; i < lines.length; i++) {
    at += lines[i].length + 1;
    append(starts, at);
  }
  let lo = 1;
  let hi = lines.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (syntaxMessage(StringPrototypeSlice(code, 0, starts[mid])) === message) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** What checking a source found. */
export interface SourceCheck {
  /** Its problems, each with the source's file (and line, when known). */
  issues: LoadIssue[];
  /** What the code guard made of it, when it runs. */
  guarded?: { code: string; lexical: string[] };
  /** False when a sandbox would run none of it (refused, or it does not compile). */
  runs: boolean;
}

/**
 * Checks `source` as a sandbox of `driver` would load it, with the same code `guard`, without running any
 * of it.
 * @example checkSource({ file: "/a.js", code: "var x = ;", kind: "middleware", exports: [] }, "otto", guard)
 * // { runs: false, issues: [{ file: "/a.js", message: "SyntaxError: Unexpected token (1:8)", line: 1, column: 9 }] }
 */
export function checkSource(
  source: SandboxSource,
  driver: "otto" | "javascript",
  guard: (code: string) => Guarded,
): SourceCheck {
  const { file } = source;
  const guarded = guard(source.code);
  if (isRefused(guarded)) return { issues: [refusedIssue(file, guarded)], runs: false };
  const issues: LoadIssue[] = [];
  let text = guarded.code;
  if (driver === "javascript" && source.kind === "middleware") {
    const names: string[] = [];
    for (let i = 0; i < source.exports.length; i++) {
      const { name } = source.exports[i];
      if (RegExpPrototypeTest(TARGET_RE, name)) append(names, name);
      else append(issues, { file, message: badExportMessage(name) });
    }
    text = wrappedText(guarded.code, names);
  }
  try {
    compileScript(text, file);
  } catch (error) {
    const issue: LoadIssue = { file, message: errorText(error) };
    if (error instanceof SafeSyntaxError) {
      const line = syntaxErrorLine(source.code, (error as Error).message);
      if (line !== undefined) issue.line = line;
    }
    append(issues, issue);
    return { issues, runs: false };
  }
  return { issues, runs: true, guarded };
}
