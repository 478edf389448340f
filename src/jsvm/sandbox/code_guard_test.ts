import assert from "node:assert/strict";
import { parserSource } from "../host/parser_source.ts";
import {
  createCodeGuard,
  type Guarded,
  IMPORT_FORBIDDEN,
  isRefused,
  RESERVED_NAME,
  TICK,
} from "./code_guard.ts";

const guard = createCodeGuard(parserSource());
const T = `${TICK}();`;

function code(source: string): string {
  const out = guard(source);
  assert.ok(!isRefused(out), `refused: ${JSON.stringify(out)}`);
  return out.code;
}

function refusal(source: string): Extract<Guarded, { refused: string }> {
  const out = guard(source);
  assert.ok(isRefused(out), `not refused: ${source}`);
  return out;
}

Deno.test("code guard: every loop iteration ticks, whatever the loop's body", () => {
  assert.equal(code("while (true) {}"), `while (true) {${T}{}}`);
  assert.equal(code("for (;;);"), `for (;;){${T};}`);
  assert.equal(code("do x++; while (x < 9)"), `do {${T}x++;} while (x < 9)`);
  assert.equal(code("for (x of it);"), `for (x of it){${T};}`);
  assert.equal(code("for (k in o) f(k)"), `for (k in o) {${T}f(k)}`);
  assert.equal(code("l: for (;;) { continue l; }"), `l: for (;;) {${T}{ continue l; }}`);
});

Deno.test("code guard: every function entry ticks: concise arrows, methods, getters, generators, async", () => {
  assert.equal(code("var g = n => n > 0 ? g(n - 1) : 1;"), `var g = n => (${TICK}(), n > 0 ? g(n - 1) : 1);`);
  assert.equal(code("a.sort((x, y) => x - y)"), `a.sort((x, y) => (${TICK}(), x - y))`);
  assert.equal(code("f = () => ({})"), `f = () => ((${TICK}(), {}))`);
  assert.equal(code("function f(a) { return a; }"), `function f(a) { ${T}return a; }`);
  assert.equal(code("function e() {}"), `function e() {${T}}`);
  assert.equal(code("var g = function* () { yield 1; };"), `var g = function* () { ${T}yield 1; };`);
  assert.equal(code("var h = async (a) => { await a; };"), `var h = async (a) => { ${T}await a; };`);
  assert.equal(
    code("class A { constructor() { this.a = 1; } get b() { return 1; } static { s(); } m() {} }"),
    `class A { constructor() { ${T}this.a = 1; } get b() { ${T}return 1; } static { ${T}s(); } m() {${T}} }`,
  );
  assert.equal(
    code("var o = { set x(v) { y = v; }, n() {} };"),
    `var o = { set x(v) { ${T}y = v; }, n() {${T}} };`,
  );
});

Deno.test('code guard: a function\'s "use strict" stays first', () => {
  assert.equal(
    code(`function f() { "use strict"; return this; }`),
    `function f() { "use strict"; ;${T}return this; }`,
  );
  assert.equal(code(`function g() { 'use strict' }`), `function g() { 'use strict' ;${T}}`);
  const strict = new Function(TICK, `return ${code('(function () { "use strict"; return this; })')}`);
  assert.equal(strict(() => {})(), undefined); // still strict: `this` is not the global object
});

Deno.test("code guard: strings, comments, regexes, templates and property names are left alone", () => {
  const source = `if (a) { b(); } else { c(); }
switch (x) { case 1: break; }
var s = "while (true) {}", r = /for (;;) {}/, t = \`while (x) \${ y }\`; // for (;;) {}
obj.while(1); obj.for(2); /* do {} while (1) */`;
  assert.equal(code(source), source);
});

Deno.test("code guard: line numbers stay as written", () => {
  const source = "var a = 1;\nwhile (a)\n  a--;\nfunction f() {\n  throw new Error();\n}\nvar g = x =>\n  x;";
  const out = code(source);
  assert.equal(out.split("\n").length, source.split("\n").length);
  assert.match(out.split("\n")[4], /throw new Error/);
});

Deno.test("code guard: import() is refused with its line and column, wherever it hides", () => {
  assert.deepEqual(refusal('var a = 1;\n  var b = import("npm:x");'), {
    refused: "import",
    message: IMPORT_FORBIDDEN,
    line: 2,
    column: 11,
  });
  for (
    const source of [
      'import("file:///etc/passwd", { with: { type: "json" } })',
      "x = [...import('data:text/javascript,1')]",
      '`${ `b${ import("x") }` }`',
      '// note\u2028import("x")',
      'x = 1; <!--\nimport("a")',
      'x = 1;\n--> y\nimport("a")',
      '#!/usr/bin/env node\nimport("a")',
      "if (x) /'/; import(\"a\"); //'",
      'function f() { return () => import("a"); }',
    ]
  ) {
    assert.equal(refusal(source).refused, "import", source);
  }
  // an escaped keyword, static imports and import.meta are syntax errors in a script
  assert.equal(refusal('\\u0069mport("x")').refused, "syntax");
  assert.equal(refusal("import x from 'y'").refused, "syntax");
  assert.equal(refusal("import.meta").refused, "syntax");
});

Deno.test("code guard: import as a property name, in strings or comments is fine", () => {
  code(`x.import(1); y?.import; var s = 'import("x")' + \`import()\`; // import("x")\nvar importer = 1;`);
});

Deno.test("code guard: names starting with __tyk_ are refused, property names after a dot are not", () => {
  assert.deepEqual(refusal("var x = 1;\n  __tyk_tick = function () {};"), {
    refused: "reserved",
    message: RESERVED_NAME,
    line: 2,
    column: 3,
  });
  assert.equal(refusal("function f(__tyk_x) {}").refused, "reserved");
  assert.equal(refusal("var \\u005f_tyk_tick = 1;").refused, "reserved");
  code("o.__tyk_tick = 1; var s = '__tyk_tick';");
});

Deno.test("code guard: a syntax error is refused with the parser's line and column", () => {
  assert.deepEqual(refusal("var ok = 1;\nvar broken = ;"), {
    refused: "syntax",
    message: "Unexpected token",
    line: 2,
    column: 14,
  });
  assert.equal(refusal("return 1").refused, "syntax");
});

Deno.test("code guard: lists the script's top-level let, const and class names", () => {
  const out = guard("let a = 1; const { b, c: [d, ...e] } = o; class F {}\nvar g; function h() { let i; }");
  assert.ok(!isRefused(out));
  assert.deepEqual(out.lexical, ["a", "b", "d", "e", "F"]);
});

Deno.test("code guard: a source nested too deeply to parse is refused, not crashed on", () => {
  assert.equal(refusal("(".repeat(100_000) + ")".repeat(100_000)).refused, "syntax");
});

Deno.test("code guard: its output stops long-running code once the tick throws", () => {
  let ticks = 0;
  const tick = () => {
    if (++ticks > 1000) throw new Error("stopped");
  };
  // Each would run for a while without the ticks (and then end, so a broken guard fails this test, not hangs it).
  for (
    const source of [
      "for (var i = 0; i < 1e7; i++);",
      "var j = 0; while (j < 1e7) j++;",
      "var k = 0; do ; while (++k < 1e7)",
      "var n = 0; for (const x of { [Symbol.iterator]: () => ({ next: () => ({ done: ++n > 1e7 }) }) });",
      "var g = n => n > 0 ? g(n - 1) + g(n - 1) : 1; g(22);",
      "Array.prototype.sort.call(new Float64Array(1e5).map(Math.random), (a, b) => a - b);",
    ]
  ) {
    ticks = 0;
    const run = new Function(TICK, code(source));
    assert.throws(() => run(tick), /stopped/, source);
  }
});

Deno.test("code guard: underscore.js, instrumented, still works", async () => {
  const url = import.meta.resolve("../../../node_modules/underscore/underscore-umd.js");
  const source = code(await Deno.readTextFile(new URL(url)));
  let ticks = 0;
  const module = { exports: {} as Record<string, (...args: unknown[]) => unknown> };
  new Function(TICK, "module", "exports", source)(() => ++ticks, module, module.exports);
  const _ = module.exports;
  assert.deepEqual(_.map([1, 2, 3], (x: unknown) => (x as number) * 2), [2, 4, 6]);
  assert.ok(ticks > 0);
});

Deno.test("code guard: built-ins replaced in the caller's realm do not change what it sees", () => {
  const saved = {
    push: Array.prototype.push,
    slice: String.prototype.slice,
    sort: Array.prototype.sort,
    stringify: JSON.stringify,
  };
  try {
    Array.prototype.push = () => 0;
    String.prototype.slice = () => "";
    Array.prototype.sort = function () {
      return this;
    };
    JSON.stringify = () => '{"code":"","lexical":[]}';
    const out = guard("while (true) {}\nvar f = () => f();");
    Object.assign(Array.prototype, { push: saved.push, sort: saved.sort });
    String.prototype.slice = saved.slice;
    JSON.stringify = saved.stringify;
    assert.deepEqual(out, { code: `while (true) {${T}{}}\nvar f = () => (${TICK}(), f());`, lexical: [] });
  } finally {
    Object.assign(Array.prototype, { push: saved.push, sort: saved.sort });
    String.prototype.slice = saved.slice;
    JSON.stringify = saved.stringify;
  }
});
