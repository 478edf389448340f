import assert from "node:assert/strict";
import { findImport, positionAt } from "./import_guard.ts";

Deno.test("findImport() finds a dynamic import() and reports its line and column", () => {
  assert.deepEqual(findImport('import("file:///etc/passwd")'), { line: 1, column: 1 });
  assert.deepEqual(findImport('var a = 1;\n  var b = await import("npm:x");'), { line: 2, column: 17 });
  assert.deepEqual(findImport("x = [...import('data:text/javascript,1')]"), { line: 1, column: 9 });
  assert.deepEqual(findImport("import x from 'y'"), { line: 1, column: 1 });
  assert.deepEqual(findImport("import.meta"), { line: 1, column: 1 });
});

Deno.test("findImport() allows import as a property name after . and ?.", () => {
  assert.equal(findImport("x.import(1); y?.import; z . /* c */ import; w.\nimport"), null);
});

Deno.test("findImport() skips strings, comments, regexes and template text", () => {
  assert.equal(findImport(`var s = 'import("x")' + "import" + \`import()\`;`), null);
  assert.equal(findImport('// import("x")\n/* import("x") */ var y = 1;'), null);
  assert.equal(findImport('var ok = /import("x")/.test(s);'), null);
  assert.equal(findImport("var s = 'it\\'s import';"), null);
  assert.equal(findImport('var s = "line \\\ncontinued import";'), null);
  assert.equal(findImport('var t = `a${ {b: "}"} }import("x")`;'), null);
  assert.equal(findImport("var importer = 1, reimport = 2;"), null);
});

Deno.test("findImport() looks inside template substitutions, nested ones too", () => {
  assert.deepEqual(findImport('`${import("x")}`'), { line: 1, column: 4 });
  assert.deepEqual(findImport('`a${ `b${ import("x") }` }`'), { line: 1, column: 11 });
});

Deno.test("findImport() sees a line ended by U+2028 as the end of a // comment", () => {
  assert.deepEqual(findImport('// note\u2028import("x")'), { line: 2, column: 1 });
});

Deno.test("findImport() resolves \\u escapes in identifiers", () => {
  assert.notEqual(findImport('\\u0069mport("x")'), null);
  assert.notEqual(findImport('im\\u{70}ort("x")'), null);
});

Deno.test("findImport() follows both readings of an ambiguous /", () => {
  // After ")" a "/" may start a regex: V8 reads /'/ as a regex, so the import is code.
  assert.notEqual(findImport(`if (x) /'/; import("a"); //'`), null);
  // After "}" a "/" may be a division: V8 reads {} / 1, so the import is code.
  assert.notEqual(findImport('x = {} / 1; import("a"); /x/.test("")'), null);
  // A function body's "}" may be followed by either.
  assert.notEqual(findImport(`function f() {} /'/; import("a"); //'`), null);
  assert.notEqual(findImport('x = function () {} / 1; import("a"); /x/.test("")'), null);
  // Both readings agree there is no import here.
  assert.equal(findImport('x = {} / 1; var y = "import";\nz = (a) / 2;'), null);
});

Deno.test("findImport() does not let an HTML-like comment or hashbang hide code", () => {
  assert.notEqual(findImport('x = 1; <!--\nimport("a")'), null);
  assert.notEqual(findImport('x = 1;\n--> y\nimport("a")'), null);
  assert.notEqual(findImport('#!/usr/bin/env node\nimport("a")'), null);
});

Deno.test("findImport() refuses when no reading is valid JavaScript", () => {
  assert.notEqual(findImport('var s = "abc\nimport("x")'), null);
  assert.notEqual(findImport('/* never closed import("x")'), null);
});

Deno.test("findImport() accepts underscore.js, a large real-world script", async () => {
  const url = import.meta.resolve("../../../node_modules/underscore/underscore-umd.js");
  const code = await Deno.readTextFile(new URL(url));
  assert.ok(code.length > 50_000);
  assert.equal(findImport(code), null);
});

Deno.test("findImport() stays fast on a large source with many ambiguous slashes", () => {
  const code = "var a = (b) / 2 / (c) / 3; x = {} / 4; // import\n".repeat(5_000);
  const started = performance.now();
  assert.equal(findImport(code), null);
  assert.ok(performance.now() - started < 2_000);
});

Deno.test("positionAt() counts \\r\\n as one line break", () => {
  assert.deepEqual(positionAt("a\r\nb\rc\nd", 7), { line: 4, column: 1 });
});
