/**
 * Evaluates plugin code as a classic script in the sandbox's global scope.
 *
 * `node:vm` scripts are real V8 scripts: top-level `let`/`const` are shared by all of an API's scripts (as
 * in one otto VM), stack frames carry the plugin's file name, and — the reason it is used — V8 refuses
 * `import()` in them ("A dynamic import callback was not specified"), also in code they `eval` or build
 * with `Function`. Code evaluated by a module's own indirect `eval` could import, so plugin code never is.
 */

import vm from "node:vm";

const runInThisContext = vm.runInThisContext;
const Script = vm.Script;

/** Compiles `code` as a script named `file` without running it. @throws the SyntaxError it has */
export function compileScript(code: string, file: string): void {
  new Script(code, { __proto__: null, filename: file } as vm.ScriptOptions);
}

/** Runs `code` as a script named `file`; returns its completion value, throws what it throws. */
export function evaluateScript(code: string, file: string): unknown {
  // A null prototype, so options a plugin put on Object.prototype (importModuleDynamically) are not seen.
  return runInThisContext(
    code,
    { __proto__: null, filename: file, displayErrors: false } as vm.RunningScriptOptions,
  );
}
