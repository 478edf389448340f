import assert from "node:assert/strict";
import { instrumentLoops, TICK } from "./loop_guard.ts";

function instrumented(code: string): string {
  const out = instrumentLoops(code);
  assert.equal(out.reserved, null);
  return out.code;
}

Deno.test("instrumentLoops() ticks in while and do-while conditions", () => {
  assert.equal(instrumented("while (true) {}"), `while (${TICK}(), true) {}`);
  assert.equal(instrumented("while (m = re.exec(s)) n++;"), `while (${TICK}(), m = re.exec(s)) n++;`);
  assert.equal(instrumented("do x++; while (x < 9)"), `do x++; while (${TICK}(), x < 9)`);
});

Deno.test("instrumentLoops() ticks in a classic for's condition, empty or not", () => {
  assert.equal(instrumented("for (;;) {}"), `for (;${TICK}(), true;) {}`);
  assert.equal(
    instrumented("for (var i = f(a, b); i < n; i++) x();"),
    `for (var i = f(a, b); ${TICK}(), i < n; i++) x();`,
  );
});

Deno.test("instrumentLoops() ticks at the start of for-of/in bodies and of every function body", () => {
  assert.equal(instrumented("for (const x of xs) { f(x); }"), `for (const x of xs) {${TICK}(); f(x); }`);
  assert.equal(instrumented("for await (const x of xs) {}"), `for await (const x of xs) {${TICK}();}`);
  assert.equal(instrumented("function f(a) { return a; }"), `function f(a) {${TICK}(); return a; }`);
  assert.equal(instrumented("var g = function* () {};"), `var g = function* () {${TICK}();};`);
  assert.equal(
    instrumented("var h = async (a) => { await a; };"),
    `var h = async (a) => {${TICK}(); await a; };`,
  );
  assert.equal(
    instrumented("class A { m() {} get [k]() {} }; var o = { n(x) {} };"),
    `class A { m() {${TICK}();} get [k]() {${TICK}();} }; var o = { n(x) {${TICK}();} };`,
  );
});

Deno.test('instrumentLoops() keeps a function\'s "use strict" first', () => {
  assert.equal(
    instrumented(`function f() { "use strict"; 'x'; return this; }`),
    `function f() { "use strict"; 'x';${TICK}(); return this; }`,
  );
  assert.equal(instrumented(`function g() { "a".length; }`), `function g() {${TICK}(); "a".length; }`);
  const strict = new Function(TICK, `return ${instrumented('function () { "use strict"; return this; }')}`);
  assert.equal(strict(() => {})(), undefined); // still strict: `this` is not the global object
});

Deno.test("instrumentLoops() leaves other blocks, object literals, strings and property names alone", () => {
  const code = `if (a) { b(); } else { c(); }
switch (x) { case 1: break; }
try { y(); } catch (e) { z(); }
var o = { a: { b: 1 } }, s = "while (true) {}", r = /for (;;) {}/;
obj.while(1); obj.for(2); var t = \`while (x) \${ y }\`;
var f = () => ({ a: 1 });`;
  assert.equal(instrumented(code), code);
});

Deno.test("instrumentLoops() keeps line numbers", () => {
  const code = "var a = 1;\nwhile (a) {\n  a--;\n}\nfunction f() {\n  throw new Error();\n}";
  assert.equal(instrumented(code).split("\n").length, code.split("\n").length);
});

Deno.test("instrumentLoops() refuses a source that uses a __tyk_ name", () => {
  assert.deepEqual(instrumentLoops("var x = 1;\n  __tyk_tick = function () {};").reserved, {
    line: 2,
    column: 3,
  });
  assert.equal(instrumentLoops("o.__tyk_tick = 1; var s = '__tyk_tick';").reserved, null);
});

Deno.test("instrumentLoops() output stops a runaway loop once the tick throws", () => {
  let ticks = 0;
  const tick = () => {
    if (++ticks > 1000) throw new Error("stopped");
  };
  for (const code of ["while (true) {}", "for (;;) {}", "do {} while (true)", "(function f() { f(); })()"]) {
    ticks = 0;
    const run = new Function(TICK, instrumented(code));
    assert.throws(() => run(tick), /stopped|call stack/, code);
  }
});

Deno.test("instrumentLoops() output of underscore.js still works", async () => {
  const url = import.meta.resolve("../../../node_modules/underscore/underscore-umd.js");
  const code = instrumented(await Deno.readTextFile(new URL(url)));
  let ticks = 0;
  const module = { exports: {} as Record<string, (...args: unknown[]) => unknown> };
  new Function(TICK, "module", "exports", code)(() => ++ticks, module, module.exports);
  const _ = module.exports;
  assert.deepEqual(_.map([1, 2, 3], (x: unknown) => (x as number) * 2), [2, 4, 6]);
  assert.equal((_.template("hi <%= name %>") as (data: object) => string)({ name: "tyk" }), "hi tyk");
  assert.ok(ticks > 0);
});
