import assert from "node:assert/strict";
import { encodeQuery, parseGoUrl, parseQuery, queryEscape } from "./url.ts";

Deno.test("parseGoUrl() splits a relative URL into Go's escaped path and raw query", () => {
  assert.deepEqual(parseGoUrl("/a/b?x=1&y=2#frag"), { scheme: "", host: "", path: "/a/b", query: "x=1&y=2" });
  assert.deepEqual(parseGoUrl("/a%2Fb?q=%zz"), { scheme: "", host: "", path: "/a%2Fb", query: "q=%zz" });
  assert.equal(parseGoUrl("/a b/é")?.path, "/a%20b/%C3%A9");
  assert.equal(parseGoUrl("/a{b}")?.path, "/a%7Bb%7D");
  assert.equal(parseGoUrl("/a%7bb")?.path, "/a%7bb"); // valid escapes are kept as written
  assert.equal(parseGoUrl("/a{b%41")?.path, "/a%7BbA"); // not valid as written: re-escaped from the decoded path
  assert.equal(parseGoUrl("relative/path")?.path, "relative/path");
  assert.deepEqual(parseGoUrl(""), { scheme: "", host: "", path: "", query: "" });
});

Deno.test("parseGoUrl() keeps only path and query of an absolute URL", () => {
  assert.deepEqual(parseGoUrl("HTTP://user:pw@example.com:8080/p?q=1"), {
    scheme: "http",
    host: "example.com:8080",
    path: "/p",
    query: "q=1",
  });
  assert.deepEqual(parseGoUrl("tyk://self/other?method=POST"), {
    scheme: "tyk",
    host: "self",
    path: "/other",
    query: "method=POST",
  });
  assert.deepEqual(parseGoUrl("mailto:a@b"), { scheme: "mailto", host: "", path: "", query: "" });
});

Deno.test("parseGoUrl() returns null where Go's url.Parse fails", () => {
  for (
    const bad of [
      "/a%zz",
      "/a%4",
      "/a\n",
      "/\u007f",
      ":x",
      "1a:b/c",
      "http://h:port/",
      "http://[::1/",
      "/#%zz",
    ]
  ) {
    assert.equal(parseGoUrl(bad), null, JSON.stringify(bad));
  }
});

Deno.test("parseQuery() reads a query as Go's Query(): & only, + as space, bad pairs dropped", () => {
  assert.deepEqual(
    [...parseQuery("a=1&a=2&b=x+y%21&&c&d=%zz&e;f=1&%E2%82%AC=%FF")],
    [["a", ["1", "2"]], ["b", ["x y!"]], ["c", [""]], ["€", ["\ufffd"]]],
  );
  assert.equal(parseQuery("").size, 0);
});

Deno.test("encodeQuery() sorts names, keeps value order and escapes form-style", () => {
  const values = new Map([["z", ["1"]], ["a b", ["x&y", "é ~*"]], ["m", []]]);
  assert.equal(encodeQuery(values), "a+b=x%26y&a+b=%C3%A9+~%2A&z=1");
  assert.equal(queryEscape("!'()*-_.~"), "%21%27%28%29%2A-_.~");
});
