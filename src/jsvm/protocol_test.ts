import assert from "node:assert/strict";
import { DATA_MAX_BYTES, grownSize } from "./protocol.ts";

Deno.test("grownSize() leaves a buffer that fits, doubles it, or grows to what the text may need", () => {
  assert.equal(grownSize(16, 5), 0); // 15 bytes at most
  assert.equal(grownSize(16, 6), 32);
  assert.equal(grownSize(16, 100), 300);
});

Deno.test("grownSize() stops at DATA_MAX_BYTES", () => {
  assert.equal(grownSize(DATA_MAX_BYTES / 2 + 1, DATA_MAX_BYTES), DATA_MAX_BYTES);
  assert.equal(grownSize(DATA_MAX_BYTES, DATA_MAX_BYTES), 0);
});
