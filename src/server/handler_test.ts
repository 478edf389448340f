import assert from "node:assert/strict";
import { splitTarget } from "./handler.ts";

Deno.test("splitTarget() separates path and raw query without decoding", () => {
  assert.deepEqual(splitTarget("http://h:1/a%20b/c?x=1&y=%2F"), { path: "/a%20b/c", query: "x=1&y=%2F" });
  assert.deepEqual(splitTarget("http://h:1/"), { path: "/", query: "" });
  assert.deepEqual(splitTarget("http://h:1/p?"), { path: "/p", query: "" });
});
