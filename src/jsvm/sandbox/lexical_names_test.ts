import assert from "node:assert/strict";
import { topLevelLexicalNames } from "./lexical_names.ts";

Deno.test("topLevelLexicalNames() lists top-level let, const and class names only", () => {
  const code = `let a = 1; const b = {}; class C {}
function f() { let inner; }
for (let i of x) {}
const {d} = o;
if (y) { const nested = 2; }
x.let = 3;`;
  assert.deepEqual(topLevelLexicalNames(code), ["a", "b", "C"]);
});
