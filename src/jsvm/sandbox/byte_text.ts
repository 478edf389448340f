/**
 * Text that keeps every byte, for the otto driver. otto holds `b64dec`'s result as Go's raw bytes, so a body
 * that is not valid UTF-8 passes through a plugin that appends text with its bytes intact (Tyk's
 * `TestJSVMBody`). Here valid UTF-8 reads as usual and each byte that is not part of a valid sequence reads
 * as the lone surrogate U+DC80–U+DCFF, which encoding turns back into that byte (the "surrogate escape"
 * Python uses for file names). Plugins that never meet invalid bytes see ordinary strings. The one
 * visible difference from otto is listed in docs/differences.md.
 */
import {
  append,
  SafeUint8Array,
  StringFromCodePoint,
  StringPrototypeCharCodeAt,
  StringPrototypeIsWellFormed,
  StringPrototypeSlice,
  utf8Decode,
  utf8DecodeStrict,
  utf8Encode,
} from "./_primordials.ts";

const ESCAPE = 0xdc00;

function isContinuation(bytes: Uint8Array, at: number, lo = 0x80, hi = 0xbf): boolean {
  return at < bytes.length && bytes[at] >= lo && bytes[at] <= hi;
}

/** Length of the valid UTF-8 sequence at `i` (Go's rules: no overlongs, surrogates or > U+10FFFF), or 0. */
function sequenceLength(bytes: Uint8Array, i: number): number {
  const b0 = bytes[i];
  if (b0 < 0x80) return 1;
  if (b0 >= 0xc2 && b0 <= 0xdf) return isContinuation(bytes, i + 1) ? 2 : 0;
  if (b0 >= 0xe0 && b0 <= 0xef) {
    const second = b0 === 0xe0
      ? isContinuation(bytes, i + 1, 0xa0)
      : b0 === 0xed
      ? isContinuation(bytes, i + 1, 0x80, 0x9f)
      : isContinuation(bytes, i + 1);
    return second && isContinuation(bytes, i + 2) ? 3 : 0;
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    const second = b0 === 0xf0
      ? isContinuation(bytes, i + 1, 0x90)
      : b0 === 0xf4
      ? isContinuation(bytes, i + 1, 0x80, 0x8f)
      : isContinuation(bytes, i + 1);
    return second && isContinuation(bytes, i + 2) && isContinuation(bytes, i + 3) ? 4 : 0;
  }
  return 0;
}

/**
 * Reads bytes as text: UTF-8, with each invalid byte as U+DC00 plus its value.
 * @example bytesToText(new Uint8Array([0x61, 0xff])) // "a\udcff"
 */
export function bytesToText(bytes: Uint8Array): string {
  const valid = utf8DecodeStrict(bytes);
  if (valid !== null) return valid;
  let out = "";
  let start = 0;
  let i = 0;
  while (i < bytes.length) {
    const n = sequenceLength(bytes, i);
    if (n > 0) {
      i += n;
      continue;
    }
    if (i > start) out += utf8Decode(bytes.subarray(start, i));
    out += StringFromCodePoint(ESCAPE + bytes[i]);
    start = ++i;
  }
  if (i > start) out += utf8Decode(bytes.subarray(start, i));
  return out;
}

/**
 * Writes text as bytes: UTF-8, with U+DC80–U+DCFF back to the byte they stand for. Any other lone
 * surrogate becomes U+FFFD, as Go encodes an invalid rune.
 * @example textToBytes("a\udcff") // Uint8Array [0x61, 0xff]
 */
export function textToBytes(text: string): Uint8Array {
  if (StringPrototypeIsWellFormed(text)) return utf8Encode(text);
  const parts: Uint8Array[] = [];
  let size = 0;
  let start = 0;
  const flush = (end: number) => {
    if (end > start) {
      const part = utf8Encode(StringPrototypeSlice(text, start, end));
      append(parts, part);
      size += part.length;
    }
  };
  for (let i = 0; i < text.length; i++) {
    const unit = StringPrototypeCharCodeAt(text, i);
    if (unit < 0xdc80 || unit > 0xdcff) continue;
    // a low surrogate after a high one is half of a real character, not an escaped byte
    const before = i > 0 ? StringPrototypeCharCodeAt(text, i - 1) : 0;
    if (before >= 0xd800 && before <= 0xdbff) continue;
    flush(i);
    const byte = new SafeUint8Array(1);
    byte[0] = unit - ESCAPE;
    append(parts, byte);
    size += 1;
    start = i + 1;
  }
  flush(text.length);
  const out = new SafeUint8Array(size);
  let offset = 0;
  // copied by hand: a plugin may have replaced TypedArray.prototype.set
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    for (let j = 0; j < part.length; j++) out[offset++] = part[j];
  }
  return out;
}
