import assert from "node:assert/strict";
import { endToEndLines, HOP_BY_HOP, HOP_BY_HOP_BUT_TE, requestHopByHop } from "./hop_by_hop.ts";

Deno.test("requestHopByHop() removes the names Connection lists and keeps TE only for trailers", () => {
  const headers = new Headers({ connection: "keep-alive, X-Drop", "x-drop": "1", "x-keep": "1", te: "gzip" });
  assert.equal(requestHopByHop(headers), HOP_BY_HOP);
  assert.equal(headers.get("x-drop"), null);
  assert.equal(headers.get("x-keep"), "1");
  const trailers = new Headers({ te: "trailers, deflate" });
  assert.equal(requestHopByHop(trailers), HOP_BY_HOP_BUT_TE);
  assert.equal(trailers.get("te"), "trailers");
});

Deno.test("endToEndLines() drops hop-by-hop lines and those Connection names, case-insensitively", () => {
  const lines: [string, string][] = [
    ["Content-Type", "text/plain"],
    ["Connection", "keep-alive, X-Hop"],
    ["Keep-Alive", "timeout=5"],
    ["x-hop", "1"],
    ["Set-Cookie", "a=1"],
  ];
  assert.deepEqual(endToEndLines(lines), [["Content-Type", "text/plain"], ["Set-Cookie", "a=1"]]);
  const clean: [string, string][] = [["A", "1"]];
  assert.equal(endToEndLines(clean), clean, "nothing to drop: the same array, no copy");
});
