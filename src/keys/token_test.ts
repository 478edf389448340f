import assert from "node:assert/strict";
import { generateToken, newKeyId, tokenOrg } from "./token.ts";

Deno.test("newKeyId() gives 32 hex chars of a UUID v4", () => {
  const id = newKeyId();
  assert.match(id, /^[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$/);
  assert.notEqual(newKeyId(), id);
});

Deno.test("generateToken() builds Tyk's b64 JSON token with exact key order", () => {
  assert.equal(
    generateToken("default", "mykey123", "murmur64"),
    "eyJvcmciOiJkZWZhdWx0IiwiaWQiOiJteWtleTEyMyIsImgiOiJtdXJtdXI2NCJ9",
  );
  assert.equal(atob(generateToken("o1", "k", "sha256")), '{"org":"o1","id":"k","h":"sha256"}');
});

Deno.test("generateToken() writes murmur64 for an unknown hash function", () => {
  assert.equal(atob(generateToken("o1", "k", "md5")), '{"org":"o1","id":"k","h":"murmur64"}');
});

Deno.test("generateToken() gives the legacy org+id without a hash function", () => {
  assert.equal(generateToken("default", "0123456789abcdef", ""), "default0123456789abcdef");
});

Deno.test("generateToken() strips a leading org from the custom id", () => {
  assert.equal(generateToken("org1", "org1abc", ""), "org1abc");
  assert.equal(
    atob(generateToken("org1", "org1abc", "murmur64")),
    '{"org":"org1","id":"abc","h":"murmur64"}',
  );
});

Deno.test("generateToken() makes a random id when the custom id is empty", () => {
  assert.match(generateToken("org1", "", ""), /^org1[0-9a-f]{32}$/);
  const json = JSON.parse(atob(generateToken("org1", "", "murmur128")));
  assert.match(json.id, /^[0-9a-f]{32}$/);
});

Deno.test("tokenOrg() reads the org of a b64 token", () => {
  assert.equal(tokenOrg("eyJvcmciOiJkZWZhdWx0IiwiaWQiOiJteWtleTEyMyIsImgiOiJtdXJtdXI2NCJ9"), "default");
});

Deno.test("tokenOrg() takes a 24-hex Mongo id prefix of a longer legacy key", () => {
  assert.equal(tokenOrg("53ac07777cbb8c2d53000002abcdef"), "53ac07777cbb8c2d53000002");
  assert.equal(tokenOrg("53ac07777cbb8c2d53000002"), "");
  assert.equal(tokenOrg("default0123456789abcdef0123456789abcdef"), "");
  assert.equal(tokenOrg("short"), "");
});
