/**
 * Checks an API's sources when its pool is made, without a sandbox (see `checkSource`), remembering the
 * outcome per distinct source text: a thousand APIs that use the same plugin file cost one check. Sandboxes
 * get each source with the code guard's output, so they do not parse it again.
 */

import type { LoadIssue, SandboxSource } from "../protocol.ts";
import { createCodeGuard, type Guarded } from "../sandbox/code_guard.ts";
import { checkSource, type SourceCheck, TARGET_RE } from "../sandbox/source_check.ts";
import { parserSource } from "./parser_source.ts";

/** Outcomes kept; past this many distinct sources the oldest are dropped. */
const KEPT = 4096;

/** Outcome by driver, kind, export names and code; the issues' file is filled in per use. */
const checked = new Map<string, SourceCheck>();
/** The sandboxes' code guard, made on first use (it parses with acorn, in a realm of its own). */
let guard: ((code: string) => Guarded) | undefined;

function key(source: SandboxSource, driver: string): string {
  let names = "";
  for (const { name } of source.exports) names += name + "\u0000";
  return `${driver}\u0000${source.kind}\u0000${names}\u0001${source.code}`;
}

function check(source: SandboxSource, driver: "otto" | "javascript"): SourceCheck {
  const k = key(source, driver);
  let outcome = checked.get(k);
  if (outcome === undefined) {
    outcome = checkSource(source, driver, guard ??= createCodeGuard(parserSource()));
    if (checked.size >= KEPT) checked.delete(checked.keys().next().value!);
    checked.set(k, outcome);
  }
  return outcome;
}

/**
 * Checks `sources` as a sandbox of `driver` would load them.
 * @returns the sources a sandbox should evaluate (those it would run, with only their valid export
 * names) and the issues found, in source order
 */
export function checkSources(
  sources: readonly SandboxSource[],
  driver: "otto" | "javascript",
): { sources: SandboxSource[]; issues: LoadIssue[] } {
  const runnable: SandboxSource[] = [];
  const issues: LoadIssue[] = [];
  for (const source of sources) {
    const outcome = check(source, driver);
    for (const issue of outcome.issues) issues.push({ ...issue, file: source.file });
    if (!outcome.runs) continue;
    // An export name the check refused is left out, so the sandbox does not report it again.
    const exports = outcome.issues.length === 0
      ? source.exports
      : source.exports.filter(({ name }) => TARGET_RE.test(name));
    runnable.push({ ...source, exports, guarded: outcome.guarded });
  }
  return { sources: runnable, issues };
}
