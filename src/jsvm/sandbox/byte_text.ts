/**
 * Text that keeps every byte, for the otto driver. otto holds `b64dec`'s result as Go's raw bytes, so a body
 * that is not valid UTF-8 passes through a plugin that appends text with its bytes intact (Tyk's
 * `TestJSVMBody`). Here valid UTF-8 reads as usual and each byte that is not part of a valid sequence reads
 * as the lone surrogate U+DC80–U+DCFF, which encoding turns back into that byte (the "surrogate escape"
 * Python uses for file names). Plugins that never meet invalid bytes see ordinary strings. The one
 * visible difference from otto is listed in docs/differences.md.
 */
import {
  ReflectApply,
  SafeUint16Array,
  SafeUint8Array,
  StringFromCharCode,
  StringPrototypeCharCodeAt,
  StringPrototypeIsWellFormed,
  utf8DecodeStrict,
  utf8Encode,
} from "./_primordials.ts";

const ESCAPE = 0xdc00;
/** Code units turned into text per `String.fromCharCode` call (its arguments live on the stack). */
const CHUNK = 8192;

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

/** The text of UTF-16 code units, a chunk at a time. */
function unitsToText(units: Uint16Array, length: number): string {
  let out = "";
  for (let at = 0; at < length; at += CHUNK) {
    const size = length - at < CHUNK ? length - at : CHUNK;
    out += ReflectApply(StringFromCharCode, undefined, new SafeUint16Array(units.buffer, at * 2, size));
  }
  return out;
}

/**
 * Reads bytes as text: UTF-8, with each invalid byte as U+DC00 plus its value. One pass into UTF-16 code
 * units (never more units than bytes), turned into text in chunks: time linear in the length, however
 * many bytes are invalid.
 * @example bytesToText(new Uint8Array([0x61, 0xff])) // "a\udcff"
 */
export function bytesToText(bytes: Uint8Array): string {
  const valid = utf8DecodeStrict(bytes);
  if (valid !== null) return valid;
  const units = new SafeUint16Array(bytes.length);
  let o = 0;
  let i = 0;
  while (i < bytes.length) {
    const b0 = bytes[i];
    const n = b0 < 0x80 ? 1 : sequenceLength(bytes, i);
    if (n === 1) units[o++] = b0;
    else if (n === 2) units[o++] = ((b0 & 0x1f) << 6) | (bytes[i + 1] & 0x3f);
    else if (n === 3) {
      units[o++] = ((b0 & 0x0f) << 12) | ((bytes[i + 1] & 0x3f) << 6) | (bytes[i + 2] & 0x3f);
    } else if (n === 4) {
      const point = (((b0 & 0x07) << 18) | ((bytes[i + 1] & 0x3f) << 12) | ((bytes[i + 2] & 0x3f) << 6) |
        (bytes[i + 3] & 0x3f)) - 0x10000;
      units[o++] = 0xd800 + (point >> 10);
      units[o++] = 0xdc00 + (point & 0x3ff);
    } else {
      units[o++] = ESCAPE + b0;
      i++;
      continue;
    }
    i += n;
  }
  return unitsToText(units, o);
}

/** UTF-8 bytes `text` writes as (see `textToBytes`), from `i`; the units it reads are `unitsAt(text, i)`. */
function unitsAt(text: string, i: number): number {
  const unit = StringPrototypeCharCodeAt(text, i);
  if (unit < 0xd800 || unit > 0xdbff || i + 1 >= text.length) return 1;
  const next = StringPrototypeCharCodeAt(text, i + 1);
  return next >= 0xdc00 && next <= 0xdfff ? 2 : 1;
}

/**
 * Writes text as bytes: UTF-8, with U+DC80–U+DCFF back to the byte they stand for. Any other lone
 * surrogate becomes U+FFFD, as Go encodes an invalid rune. Two passes (size, then bytes), linear in the
 * length.
 * @example textToBytes("a\udcff") // Uint8Array [0x61, 0xff]
 */
export function textToBytes(text: string): Uint8Array {
  if (StringPrototypeIsWellFormed(text)) return utf8Encode(text);
  let size = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = StringPrototypeCharCodeAt(text, i);
    if (unit < 0x80) size += 1;
    else if (unit < 0x800) size += 2;
    else if (unitsAt(text, i) === 2) {
      size += 4;
      i++;
    } else size += unit >= 0xdc80 && unit <= 0xdcff ? 1 : 3; // an escaped byte, or U+FFFD or a BMP character
  }
  const out = new SafeUint8Array(size);
  let o = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = StringPrototypeCharCodeAt(text, i);
    if (unit < 0x80) out[o++] = unit;
    else if (unit < 0x800) {
      out[o++] = 0xc0 | (unit >> 6);
      out[o++] = 0x80 | (unit & 0x3f);
    } else if (unitsAt(text, i) === 2) {
      const point = 0x10000 + ((unit - 0xd800) << 10) + (StringPrototypeCharCodeAt(text, ++i) - 0xdc00);
      out[o++] = 0xf0 | (point >> 18);
      out[o++] = 0x80 | ((point >> 12) & 0x3f);
      out[o++] = 0x80 | ((point >> 6) & 0x3f);
      out[o++] = 0x80 | (point & 0x3f);
    } else if (unit >= 0xdc80 && unit <= 0xdcff) out[o++] = unit - ESCAPE;
    else {
      // a lone surrogate is U+FFFD
      const point = unit >= 0xd800 && unit <= 0xdfff ? 0xfffd : unit;
      out[o++] = 0xe0 | (point >> 12);
      out[o++] = 0x80 | ((point >> 6) & 0x3f);
      out[o++] = 0x80 | (point & 0x3f);
    }
  }
  return out;
}
