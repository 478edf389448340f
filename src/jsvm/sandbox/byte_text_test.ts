import assert from "node:assert/strict";
import { bytesToText, textToBytes } from "./byte_text.ts";

const utf8 = (text: string) => new TextEncoder().encode(text);

Deno.test("bytesToText() reads valid UTF-8 as usual, NUL and U+FFFF included", () => {
  assert.equal(bytesToText(utf8("foô \uffff \u0000 bar")), "foô \uffff \u0000 bar");
});

Deno.test("bytesToText() reads each invalid byte as U+DC00 plus the byte", () => {
  // a lone 0xFF, a truncated sequence, an overlong "/", an encoded surrogate, a code point past U+10FFFF
  const bytes = new Uint8Array([
    0x61,
    0xff,
    0xc3,
    0x62,
    0xc0,
    0xaf,
    0xed,
    0xa0,
    0x80,
    0xf4,
    0x90,
    0x80,
    0x80,
  ]);
  assert.equal(
    bytesToText(bytes),
    "a\udcff\udcc3b\udcc0\udcaf\udced\udca0\udc80\udcf4\udc90\udc80\udc80",
  );
});

Deno.test("textToBytes() turns bytesToText() back into the same bytes", () => {
  const bytes = new Uint8Array(4096);
  let seed = 7;
  for (let i = 0; i < bytes.length; i++) bytes[i] = seed = (seed * 1103515245 + 12345) & 0xff;
  assert.deepEqual(textToBytes(bytesToText(bytes)), bytes);
  const text = `${bytesToText(new Uint8Array([0xff, 0x00, 0xfe]))} appended é`;
  assert.deepEqual(textToBytes(text), new Uint8Array([0xff, 0x00, 0xfe, ...utf8(" appended é")]));
});

Deno.test("textToBytes() keeps surrogate pairs and writes other lone surrogates as U+FFFD", () => {
  assert.deepEqual(textToBytes("😀"), utf8("😀"));
  assert.deepEqual(textToBytes("\ud83d\udcff"), utf8("\u{1f4ff}"));
  assert.deepEqual(textToBytes("a\ud800b"), utf8("a\ufffdb"));
  assert.deepEqual(textToBytes("\udc7f"), utf8("\ufffd"));
});

Deno.test("bytesToText() reads two-, three- and four-byte characters beside invalid bytes", () => {
  const bytes = new Uint8Array([...utf8("é€😀"), 0xff, ...utf8("ß"), 0xf0, 0x9f, ...utf8("🙂")]);
  assert.equal(bytesToText(bytes), "é€😀\udcffß\udcf0\udc9f🙂");
  assert.deepEqual(textToBytes(bytesToText(bytes)), bytes);
});

Deno.test("bytesToText() and textToBytes() keep every byte of a large binary body", () => {
  // longer than the chunk bytesToText turns into text at once (8192 units), a character across its end
  const bytes = new Uint8Array(50_000);
  for (let i = 0; i < 8191; i++) bytes[i] = i % 2 === 0 ? 0x61 : 0xff; // one unit per byte
  bytes.set(utf8("😀"), 8191);
  let seed = 11;
  for (let i = 8195; i < bytes.length; i++) bytes[i] = seed = (seed * 1103515245 + 12345) & 0xff;
  const text = bytesToText(bytes);
  assert.equal(text.slice(8189, 8193), "\udcffa😀");
  assert.deepEqual(textToBytes(text), bytes);
});
