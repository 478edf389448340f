/**
 * Evaluates an API's sources in its sandbox, driver by driver, in Tyk's load order, and finds what a
 * call's target name refers to.
 *
 * - `otto`: every source is a global script; a later declaration of the same name wins, and a source's
 *   top-level `var`/`function` are visible to the others.
 * - `javascript`: each middleware source runs inside a function, so its top-level names stay private; the
 *   values of its manifest names are kept under hidden aliases, and the function is run again after each
 *   call (as goja replays every program into a fresh runtime), so closure state is fresh too. The user
 *   library and virtual-endpoint sources stay global.
 *
 * A source that does not load (guard refusal, syntax error, exception at the top level) becomes a
 * `LoadIssue` with the line within the plugin file, and loading continues with the next one.
 */

import type { LoadIssue, SandboxSource } from "../protocol.ts";
import { evaluateScript } from "./_evaluate.ts";
import { type Guarded, isRefused } from "./code_guard.ts";
import {
  badExportMessage,
  errorText,
  refusedIssue,
  syntaxErrorLine,
  TARGET_RE,
  wrappedText,
} from "./source_check.ts";
import type { LexicalBindings } from "./state_reset.ts";
import {
  append,
  MapPrototypeGet,
  MapPrototypeHas,
  MapPrototypeSet,
  ReflectApply,
  RegExpPrototypeExec,
  RegExpPrototypeTest,
  SafeMap,
  SafeSet,
  SafeSyntaxError,
  SetPrototypeAdd,
  SetPrototypeHas,
  StringPrototypeCharCodeAt,
  StringPrototypeIndexOf,
  StringPrototypeSlice,
  StringPrototypeSplit,
} from "./_primordials.ts";

const DISPATCH_FILE = "<dispatch>";
const LINE_COLUMN_RE = /^(\d+):(\d+)/;

/** Outcome of resolving a call target. */
export type Resolved = { found: true; value: unknown } | { found: false; reason: string };

/** An API's sources, loaded. */
export interface LoadedSources {
  issues: LoadIssue[];
  /** Names of script-level `let`/`const`/`class` bindings that resolved after loading. */
  lexical: LexicalBindings | undefined;
  /** Finds a call target: a wrapped file's alias (or its name, when only one file exports it), or a global path. */
  resolve(target: string): Resolved;
  /** Runs every wrapped file's top level again; a file that throws keeps its previous values. */
  replay(): void;
  /** The plugin file and line an exception was thrown from, when its stack shows one. */
  locate(error: unknown): { file?: string; line?: number };
}

/** Hooks the sandbox runs while loading. */
export interface LoadHooks {
  /** Before each source: lets the host time-box it. */
  beforeSource(file: string): void;
  /** After the user library: the Tyk API functions are installed again (a library may not replace them). */
  afterLibrary(): void;
  /** Checked after each source: true when the host gave up on this sandbox, so loading stops. */
  stopped(): boolean;
}

interface Wrapped {
  factory: () => unknown[];
  aliases: string[];
}

/** The load issues of one sandbox, and where in the loaded files an exception came from. */
class LoadReport {
  readonly issues: LoadIssue[] = [];
  /** The files evaluated so far, in order. */
  readonly files: string[] = [];

  /** Records an issue with `file`. */
  fail(file: string, message: string, line?: number, column?: number): void {
    const issue: LoadIssue = { file, message };
    if (line !== undefined) issue.line = line;
    if (column !== undefined) issue.column = column;
    append(this.issues, issue);
  }

  /** Records what `source` threw while loading, at its line when it can be found. */
  failWith(source: SandboxSource, error: unknown): void {
    const message = errorText(error);
    if (error instanceof SafeSyntaxError) {
      const raw = (error as Error).message;
      this.fail(source.file, message, syntaxErrorLine(source.code, raw));
      return;
    }
    const where = this.locate(error);
    this.fail(source.file, message, where.file === source.file ? where.line : undefined);
  }

  /** The loaded file and line an exception was thrown from, when its stack shows one. */
  locate(error: unknown): { file?: string; line?: number } {
    let stack: unknown;
    try {
      stack = (error as { stack?: unknown }).stack;
    } catch {
      return {};
    }
    if (typeof stack !== "string") return {};
    const files = this.files;
    const frames = StringPrototypeSplit(stack, "\n");
    for (let i = 0; i < frames.length; i++) {
      for (let f = 0; f < files.length; f++) {
        const file = files[f];
        const at = StringPrototypeIndexOf(frames[i], `${file}:`);
        if (at === -1) continue;
        const before = StringPrototypeCharCodeAt(frames[i], at - 1);
        if (at > 0 && before !== 40 && before !== 32) continue; // "(" or " "
        const m = RegExpPrototypeExec(LINE_COLUMN_RE, StringPrototypeSlice(frames[i], at + file.length + 1));
        if (m !== null) return { file, line: +m[1] };
      }
    }
    return {};
  }
}

/**
 * The `javascript` driver's middleware files: each runs inside a function, and the values of its manifest
 * names are kept under their aliases.
 */
class WrappedFiles {
  #wrapped: Wrapped[] = [];
  #exports = new SafeMap<string, unknown>();
  /** name → alias, null when two files export it. */
  #byName = new SafeMap<string, string | null>();

  /** Evaluates a middleware file inside a function (its instrumented `code`), keeping its names' values. */
  load(source: SandboxSource, code: string, report: LoadReport): void {
    const aliases: string[] = [];
    const names: string[] = [];
    for (let i = 0; i < source.exports.length; i++) {
      const { name, alias } = source.exports[i];
      if (!RegExpPrototypeTest(TARGET_RE, name)) {
        report.fail(source.file, badExportMessage(name));
        continue;
      }
      append(aliases, alias);
      append(names, name);
    }
    let factory: () => unknown[];
    try {
      factory = evaluateScript(wrappedText(code, names), source.file) as () => unknown[];
    } catch (error) {
      report.failWith(source, error);
      return;
    }
    const entry: Wrapped = { factory, aliases };
    try {
      this.#run(entry);
    } catch (error) {
      report.failWith(source, error);
      return;
    }
    append(this.#wrapped, entry);
    for (let i = 0; i < source.exports.length; i++) {
      const { name, alias } = source.exports[i];
      MapPrototypeSet(this.#byName, name, MapPrototypeHas(this.#byName, name) ? null : alias);
    }
  }

  /** Runs every file's top level again; a file that throws keeps its previous values. */
  replay(): void {
    for (let i = 0; i < this.#wrapped.length; i++) {
      try {
        this.#run(this.#wrapped[i]);
      } catch {
        // its previous values stay
      }
    }
  }

  /** What `target` names among the files (an alias, or a name only one file exports); null when none. */
  lookup(target: string): Resolved | null {
    const exports = this.#exports;
    const direct = MapPrototypeHas(exports, target) ? target : MapPrototypeGet(this.#byName, target);
    if (typeof direct !== "string") return null;
    const value = MapPrototypeGet(exports, direct);
    return value === undefined || value === null
      ? { found: false, reason: `"${target}" is not defined` }
      : { found: true, value };
  }

  /** Runs a file's top level and keeps its exported values. @throws what the file throws */
  #run(entry: Wrapped): void {
    const values = ReflectApply(entry.factory, undefined, []) as unknown[];
    for (let i = 0; i < entry.aliases.length; i++) {
      MapPrototypeSet(this.#exports, entry.aliases[i], values?.[i]);
    }
  }
}

/** Finds a global name or dotted path; each target is compiled into a reader once. */
function globalResolver(): (target: string) => Resolved {
  const readers = new SafeMap<string, () => unknown>();
  return (target) => {
    let read = MapPrototypeGet(readers, target);
    if (read === undefined) {
      if (!RegExpPrototypeTest(TARGET_RE, target)) {
        return { found: false, reason: `"${target}" is not a name` };
      }
      read = evaluateScript(`(function(){ return ${target}; })`, DISPATCH_FILE) as () => unknown;
      MapPrototypeSet(readers, target, read);
    }
    try {
      const value = read();
      return value === undefined || value === null
        ? { found: false, reason: `"${target}" is not defined` }
        : { found: true, value };
    } catch (error) {
      return { found: false, reason: errorText(error) };
    }
  };
}

/** Loads `sources` in order, each as the code guard returns it. Never throws for plugin errors. */
export function loadSources(
  sources: readonly SandboxSource[],
  driver: "otto" | "javascript",
  guard: (code: string) => Guarded,
  hooks: LoadHooks,
): LoadedSources {
  const report = new LoadReport();
  const wrapped = new WrappedFiles();
  const lexicalNames: string[] = [];

  for (let s = 0; s < sources.length && !hooks.stopped(); s++) {
    const source = sources[s];
    hooks.beforeSource(source.file);
    append(report.files, source.file);
    const guarded = source.guarded ?? guard(source.code);
    if (isRefused(guarded)) {
      const { message, line, column } = refusedIssue(source.file, guarded);
      report.fail(source.file, message, line, column);
    } else if (driver === "javascript" && source.kind === "middleware") {
      wrapped.load(source, guarded.code, report);
    } else {
      try {
        evaluateScript(guarded.code, source.file);
        for (let i = 0; i < guarded.lexical.length; i++) append(lexicalNames, guarded.lexical[i]);
      } catch (error) {
        report.failWith(source, error);
      }
    }
    if (source.kind === "library") hooks.afterLibrary();
  }

  const resolveGlobal = globalResolver();
  return {
    issues: report.issues,
    lexical: lexicalBindings(lexicalNames),
    resolve: (target) => wrapped.lookup(target) ?? resolveGlobal(target),
    replay: () => wrapped.replay(),
    locate: (error) => report.locate(error),
  };
}

/** Accessors for script-level lexical bindings that exist (and are initialised) after loading. */
function lexicalBindings(names: string[]): LexicalBindings | undefined {
  const present: string[] = [];
  const seen = new SafeSet<string>();
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    if (SetPrototypeHas(seen, name)) continue;
    SetPrototypeAdd(seen, name);
    const probe = evaluateScript(
      `(function(){ try { ${name}; return true; } catch { return false; } })`,
      DISPATCH_FILE,
    );
    if ((probe as () => boolean)()) append(present, name);
  }
  if (present.length === 0) return undefined;
  let reads = "";
  let writes = "";
  for (let i = 0; i < present.length; i++) {
    reads += `${present[i]},`;
    writes += `case ${i}: try { ${present[i]} = v; return true; } catch { return false; }\n`;
  }
  const read = evaluateScript(`(function(){ return [${reads}]; })`, DISPATCH_FILE) as () => unknown[];
  const write = evaluateScript(
    `(function(i, v){ switch (i) {\n${writes}} return false; })`,
    DISPATCH_FILE,
  ) as (index: number, value: unknown) => boolean;
  return { read, write };
}
