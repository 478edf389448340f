import assert from "node:assert/strict";
import { outboundUrl } from "./egress.ts";

Deno.test("outboundUrl() passes absolute http and https URLs, whatever the scheme's case", () => {
  assert.equal(outboundUrl("http://h:1/a?b=c").href, "http://h:1/a?b=c");
  assert.equal(outboundUrl("HTTPS://h/").protocol, "https:");
});

Deno.test("outboundUrl() refuses every other scheme and relative URLs", () => {
  for (
    const text of [
      "file:///etc/passwd",
      "FILE:///etc/passwd",
      " file:/x",
      "data:,x",
      "blob:http://h/u",
      "ftp://h/",
    ]
  ) {
    assert.throws(() => outboundUrl(text), /unsupported protocol scheme/, text);
  }
  for (const text of ["/relative", "//h/x", ""]) assert.throws(() => outboundUrl(text), TypeError, text);
});
