import assert from "node:assert/strict";
import { parseJsonText } from "./_json_text.ts";

Deno.test("parseJsonText() names the line and column of a syntax error", () => {
  assert.throws(() => parseJsonText('{\n  "a": 1,\n    x\n}'), {
    name: "SyntaxError",
    message: "Expected double-quoted property name at line 3 column 5",
  });
  assert.throws(() => parseJsonText('{\n  "a": [1,'), {
    message: "Unexpected end of JSON input at line 2 column 11",
  });
});

Deno.test("parseJsonText() drops V8's echo of the whole input from an unexpected-token error", () => {
  assert.throws(() => parseJsonText('{"a": tru}'), { message: "Unexpected token '}'" });
});

Deno.test("parseJsonText() accepts a leading byte-order mark", () => {
  assert.deepEqual(parseJsonText('\ufeff{"a": 1}'), { a: 1 });
});
