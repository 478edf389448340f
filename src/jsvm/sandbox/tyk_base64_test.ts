import assert from "node:assert/strict";
import { b64dec, b64enc, RAW_BYTES, rawb64dec, rawb64enc } from "./tyk_base64.ts";

Deno.test("b64enc() pads and encodes UTF-8 bytes, not Latin-1", () => {
  assert.equal(b64enc("teststring"), "dGVzdHN0cmluZw==");
  assert.equal(b64enc("é"), "w6k=");
  assert.equal(b64enc("😀"), "8J+YgA==");
  assert.equal(b64enc(""), "");
  assert.equal(b64enc("ab"), "YWI=");
  assert.equal(b64enc("abc"), "YWJj");
});

Deno.test("rawb64enc() leaves out the padding", () => {
  assert.equal(rawb64enc("é"), "w6k");
  assert.equal(rawb64enc("a"), "YQ");
  assert.equal(rawb64enc("abc"), "YWJj");
});

Deno.test("b64dec() decodes padded input and falls back to unpadded", () => {
  assert.equal(b64dec("dGVzdHN0cmluZw=="), "teststring");
  assert.equal(b64dec("dGVzdHN0cmluZw"), "teststring");
  assert.equal(b64dec("eyJzdWIiOiIxMjM0NTY3ODkwIn0"), '{"sub":"1234567890"}');
  assert.equal(b64dec("w6k="), "é");
  assert.equal(b64dec(""), "");
});

Deno.test("b64dec() ignores line breaks", () => {
  assert.equal(b64dec("dGVz\ndHN0\r\ncmluZw==\n"), "teststring");
});

Deno.test("b64dec() gives undefined for base64url, bad padding and stray characters", () => {
  assert.equal(b64dec("-_8"), undefined);
  assert.equal(b64dec("dGVzdA="), undefined);
  assert.equal(b64dec("dGVzdA==dGVz"), undefined);
  assert.equal(b64dec("a"), undefined);
  assert.equal(b64dec("dGVz dA=="), undefined);
  assert.equal(b64dec("dGVzdA==="), undefined);
});

Deno.test("b64dec() reads invalid UTF-8 as U+FFFD", () => {
  assert.equal(b64dec("/w=="), "\uFFFD");
});

Deno.test("rawb64dec() refuses padding", () => {
  assert.equal(rawb64dec("w6k"), "é");
  assert.equal(rawb64dec("w6k="), undefined);
  assert.equal(rawb64dec("YQ"), "a");
  assert.equal(rawb64dec("Y"), undefined);
});

Deno.test("b64enc() and b64dec() round-trip a large body", () => {
  const text = "héllo wörld ✓ ".repeat(50_000);
  assert.equal(b64dec(b64enc(text)), text);
});

Deno.test("b64dec() and b64enc() with RAW_BYTES keep bytes that are not UTF-8, as otto does", () => {
  const bytes = new Uint8Array([...new TextEncoder().encode("foô \uffff \u0000 "), 0xff, 0x20, 0x62]);
  const body = btoa(String.fromCharCode(...bytes));
  const text = b64dec(body, RAW_BYTES)!;
  assert.equal(text, "foô \uffff \u0000 \udcff b");
  assert.equal(b64enc(text, RAW_BYTES), body);
  assert.equal(b64enc(`${text}!`, RAW_BYTES), btoa(String.fromCharCode(...bytes, 0x21)));
  assert.equal(b64enc(text), btoa(String.fromCharCode(...new TextEncoder().encode(text))), "UTF8 by default");
});
