import assert from "node:assert/strict";
import { nextHookRequest } from "./hook_run.ts";
import type { HookEdits, HookRequest } from "../protocol.ts";

const SENT: HookRequest = {
  method: "POST",
  requestURI: "/a/x?q=1",
  url: "/a/x?q=1",
  scheme: "http",
  host: "gw",
  query: "q=1",
  headers: ["content-length", "4", "x-keep", "1", "x-old", "a", "x-old", "b"],
  body: btoa("body"),
  ignoreCanonical: false,
};

function edits(extra: Partial<HookEdits>): HookEdits {
  return {
    body: null,
    path: null,
    query: null,
    deleteHeaders: [],
    setHeaders: [],
    decision: { kind: "continue" },
    warnings: [],
    sessionMeta: null,
    session: null,
    authValue: "",
    ...extra,
  };
}

Deno.test("nextHookRequest() applies body, URL and header edits as the gateway does", () => {
  const next = nextHookRequest(
    SENT,
    edits({
      body: btoa("longer body"),
      path: "/b",
      query: "q=2",
      deleteHeaders: ["X-Old"],
      setHeaders: [["X-New", "v w"], ["X-Keep", "2"]],
    }),
  );
  assert.deepEqual(next, {
    ...SENT,
    url: "/b?q=2",
    query: "q=2",
    body: btoa("longer body"),
    headers: ["content-length", "11", "x-new", "v w", "x-keep", "2"],
  });
  // the body alone when Request.URL did not parse; no Content-Length appears where none was sent
  const ignored = nextHookRequest(
    { ...SENT, headers: ["x-keep", "1"] },
    edits({ body: btoa("x"), path: "/c", setHeaders: [["X-Lost", "1"]], decision: { kind: "ignored" } }),
  );
  assert.deepEqual(ignored, { ...SENT, headers: ["x-keep", "1"], body: btoa("x") });
});

Deno.test("nextHookRequest() gives up on values Fetch would change and names it would refuse", () => {
  for (
    const [name, value] of [["X-A", "1, 2"], ["X-A", " padded"], ["X-A", "tab\t"], ["X-A", "é"], ["X A", "1"]]
  ) {
    assert.equal(nextHookRequest(SENT, edits({ setHeaders: [[name, value]] })), null, `${name}: ${value}`);
  }
  assert.equal(nextHookRequest(SENT, edits({ deleteHeaders: ["bad name"] })), null);
});
