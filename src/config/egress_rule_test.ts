import assert from "node:assert/strict";
import { ipBytes, parseEgressRule } from "./egress_rule.ts";

Deno.test("parseEgressRule() reads names, wildcards, addresses with or without a port, and CIDR ranges", () => {
  assert.deepEqual(parseEgressRule("API.example.com"), { kind: "host", host: "api.example.com", port: null });
  assert.deepEqual(parseEgressRule("api.example.com:80"), {
    kind: "host",
    host: "api.example.com",
    port: 80,
  });
  assert.deepEqual(parseEgressRule("*.example.com:8443"), {
    kind: "subdomains",
    suffix: ".example.com",
    port: 8443,
  });
  assert.deepEqual(parseEgressRule("127.1:9000"), { kind: "host", host: "127.0.0.1", port: 9000 });
  assert.deepEqual(parseEgressRule("[::1]"), { kind: "host", host: "[::1]", port: null });
  assert.deepEqual(parseEgressRule("10.0.0.0/8"), { kind: "cidr", bytes: [10, 0, 0, 0], bits: 8 });
  assert.deepEqual(parseEgressRule("fd00::/8"), {
    kind: "cidr",
    bytes: [0xfd, ...Array(15).fill(0)],
    bits: 8,
  });
});

Deno.test("parseEgressRule() refuses what is none of its forms", () => {
  for (
    const bad of [
      "",
      "http://x",
      "x/y",
      "10.0.0.0/33",
      "api.example.com/8",
      "*.10.0.0.1",
      "a b",
      "u@h",
      "::1",
    ]
  ) {
    assert.equal(parseEgressRule(bad), null, bad);
  }
});

Deno.test("ipBytes() reads IPv4, IPv6 and IPv4-mapped IPv6 addresses as the URL parser writes them", () => {
  assert.deepEqual(ipBytes("10.1.2.3"), [10, 1, 2, 3]);
  assert.deepEqual(ipBytes(new URL("http://[::ffff:127.0.0.1]/").hostname), [127, 0, 0, 1]);
  assert.deepEqual(ipBytes("[2001:db8::1]"), [0x20, 0x01, 0x0d, 0xb8, ...Array(11).fill(0), 1]);
  assert.equal(ipBytes("example.com"), null);
});
