import assert from "node:assert/strict";
import { secretMatches } from "./control_api.ts";

Deno.test("secretMatches() accepts only the exact secret", () => {
  assert.equal(secretMatches("s3cret", "s3cret"), true);
  assert.equal(secretMatches("s3cre", "s3cret"), false);
  assert.equal(secretMatches("s3cret ", "s3cret"), false);
  assert.equal(secretMatches(null, "s3cret"), false);
});

Deno.test("secretMatches() refuses everything when the secret is empty", () => {
  assert.equal(secretMatches("", ""), false);
  assert.equal(secretMatches(null, ""), false);
});
