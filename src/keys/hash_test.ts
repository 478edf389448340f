import assert from "node:assert/strict";
import { hashKey, hashStr, murmur128, murmur32Legacy, murmur64, sha256Hex } from "./hash.ts";

Deno.test("murmur64() gives the first word of MurmurHash3 x64_128, big-endian", () => {
  assert.equal(murmur64("hello"), "cbd8a7b341bd9b02");
  assert.equal(murmur64(""), "0000000000000000");
});

Deno.test("murmur128() gives both words of MurmurHash3 x64_128, big-endian", () => {
  assert.equal(murmur128("hello"), "cbd8a7b341bd9b025b1e906a48ae1d19");
  // The reference vector (h1 = 0xe34bbc7bbc071b6c, h2 = 0x7a433ca9c49a9347); 43 bytes exercise blocks and tail.
  assert.equal(murmur128("The quick brown fox jumps over the lazy dog"), "e34bbc7bbc071b6c7a433ca9c49a9347");
});

Deno.test("murmur32Legacy() ignores trailing bytes, length and final mix like Tyk", () => {
  assert.equal(murmur32Legacy("hello"), "ef13efcd");
  assert.equal(murmur32Legacy("hell"), "ef13efcd");
  assert.equal(murmur32Legacy("abc"), "00000000");
  assert.equal(murmur32Legacy(""), "00000000");
});

Deno.test("murmur32Legacy() reproduces Tyk issue #1309", () => {
  assert.equal(murmur32Legacy("defaultf1bfc265b48841f1b1dcdc26cd39eadf"), "319d3ab3");
  assert.equal(murmur32Legacy("defaultf1bfc265b48841f1b1dcdc26cd39eade"), "319d3ab3");
});

Deno.test("murmur32Legacy() hashes the UTF-8 bytes", () => {
  // Two UTF-16 units but four UTF-8 bytes: one full block, so the hash is not the empty one.
  assert.notEqual(murmur32Legacy("éé"), "00000000");
  assert.equal(murmur32Legacy("éé"), murmur32Legacy("ééx"));
});

Deno.test("sha256Hex() gives 64 lowercase hex chars", () => {
  assert.equal(sha256Hex("hello"), "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
});

Deno.test("hashStr() gives Tyk's murmur64 for a b64 token", () => {
  assert.equal(
    hashStr("eyJvcmciOiJkZWZhdWx0IiwiaWQiOiJteWtleTEyMyIsImgiOiJtdXJtdXI2NCJ9"),
    "56cd13f378e5b5ac",
  );
});

Deno.test("hashStr() gives murmur32 for a legacy key", () => {
  assert.equal(hashStr("default0123456789abcdef0123456789abcdef"), "325fb483");
});

Deno.test("hashStr() follows the token's h field for sha256 and murmur128", () => {
  const sha = btoa('{"org":"o","id":"i","h":"sha256"}');
  assert.equal(hashStr(sha), sha256Hex(sha));
  const m128 = btoa('{"org":"o","id":"i","h":"murmur128"}');
  assert.equal(hashStr(m128), murmur128(m128));
});

Deno.test("hashStr() falls back to murmur32 for an unknown or missing h, as Tyk does", () => {
  const unknown = btoa('{"org":"o","id":"i","h":"md5"}');
  assert.equal(hashStr(unknown), murmur32Legacy(unknown));
  const none = btoa('{"org":"o","id":"i"}');
  assert.equal(hashStr(none), murmur32Legacy(none));
  // Not strict base64 (no padding): treated as a legacy key.
  const unpadded = btoa('{"org":"o","id":"i","h":"murmur64"}').replace(/=+$/, "");
  assert.equal(hashStr(unpadded), murmur32Legacy(unpadded));
});

Deno.test("hashKey() hashes only when enabled", () => {
  assert.equal(hashKey("default0123456789abcdef0123456789abcdef", true), "325fb483");
  assert.equal(
    hashKey("default0123456789abcdef0123456789abcdef", false),
    "default0123456789abcdef0123456789abcdef",
  );
});
