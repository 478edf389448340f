import assert from "node:assert/strict";
import { checkEgress, outboundUrl } from "./egress.ts";
import { parseEgressRule } from "../../config/egress_rule.ts";

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

Deno.test("checkEgress() lets through only listed hosts, and the admin port only by an entry naming it", () => {
  const allow = {
    rules: ["api.example.com", "*.corp.example", "127.0.0.1:8080", "10.0.0.0/8", "fd00::/8"].map((e) =>
      parseEgressRule(e)!
    ),
    adminPort: 8080,
  };
  const ok = (url: string) => checkEgress(new URL(url), allow);
  const refused = (url: string) =>
    assert.throws(() => ok(url), /is not in this API's jsvm_limits\.egress_allow/, url);
  ok("https://api.example.com/x");
  ok("http://a.b.corp.example:81/");
  ok("http://127.0.0.1:8080/tyk/keys");
  ok("http://10.200.0.1/");
  ok("http://[fd12::1]:9/");
  ok("http://[::ffff:10.0.0.1]/");
  refused("http://other.example.com/");
  refused("http://corp.example/"); // the wildcard is for subdomains
  refused("http://api.example.com.evil.test/");
  refused("http://127.0.0.1:9000/");
  refused("http://localhost:8080/"); // names are not resolved
  refused("http://10.0.0.1:8080/"); // the admin port: a CIDR range does not open it
  refused("http://11.0.0.1/");
});
