/**
 * Tyk's base64 helpers (`b64enc`, `b64dec`, `rawb64enc`, `rawb64dec`) with Go's `encoding/base64` rules:
 * strings are UTF-8 bytes (not Latin-1 like `btoa`), `\r` and `\n` are ignored when decoding, `-` and `_`
 * are invalid, and a failed decode gives `undefined`.
 */

import { SafeUint8Array, StringPrototypeCharCodeAt, utf8Decode, utf8Encode } from "./_primordials.ts";
import { bytesToText, textToBytes } from "./byte_text.ts";

/** How the helpers turn text into bytes and back. */
export interface TextBytes {
  encode(text: string): Uint8Array;
  decode(bytes: Uint8Array): string;
}

/** goja's strings: UTF-8, invalid bytes read as U+FFFD. */
export const UTF8: TextBytes = { encode: utf8Encode, decode: utf8Decode };
/** otto's strings hold Go's raw bytes: invalid bytes survive a decode and encode (see `byte_text.ts`). */
export const RAW_BYTES: TextBytes = { encode: textToBytes, decode: bytesToText };

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const PAD = 61; // "="
const CR = 13;
const LF = 10;

const DIGITS = new SafeUint8Array(256).fill(255);
const CHARS = new SafeUint8Array(64);
for (let i = 0; i < 64; i++) {
  CHARS[i] = StringPrototypeCharCodeAt(ALPHABET, i);
  DIGITS[CHARS[i]] = i;
}

// Typed arrays only: no array iterator, push or index setter a plugin could have replaced.
function encodeBytes(bytes: Uint8Array, pad: boolean): string {
  const whole = bytes.length - (bytes.length % 3);
  const rest = bytes.length - whole;
  const size = (whole / 3) * 4 + (rest === 0 ? 0 : pad ? 4 : rest + 1);
  const out = new SafeUint8Array(size);
  let o = 0;
  for (let i = 0; i < whole; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out[o++] = CHARS[n >> 18];
    out[o++] = CHARS[(n >> 12) & 63];
    out[o++] = CHARS[(n >> 6) & 63];
    out[o++] = CHARS[n & 63];
  }
  if (rest > 0) {
    const n = (bytes[whole] << 16) | (rest === 2 ? bytes[whole + 1] << 8 : 0);
    out[o++] = CHARS[n >> 18];
    out[o++] = CHARS[(n >> 12) & 63];
    if (rest === 2) out[o++] = CHARS[(n >> 6) & 63];
    if (pad) {
      if (rest === 1) out[o++] = PAD;
      out[o++] = PAD;
    }
  }
  return utf8Decode(out);
}

/** Decodes like Go's `StdEncoding` (`pad`) or `RawStdEncoding`; null when the input is not valid. */
function decodeBytes(text: string, pad: boolean): Uint8Array | null {
  const digits = new SafeUint8Array(text.length);
  let count = 0;
  let padding = 0;
  for (let i = 0; i < text.length; i++) {
    const c = StringPrototypeCharCodeAt(text, i);
    if (c === CR || c === LF) continue;
    if (c === PAD) {
      if (!pad) return null;
      padding++;
      continue;
    }
    if (padding > 0 || c > 255 || DIGITS[c] === 255) return null; // data after "=" or outside the alphabet
    digits[count++] = DIGITS[c];
  }
  const tail = count % 4;
  if (tail === 1) return null;
  // Padding completes the last quantum exactly: "xx==" or "xxx=", nothing else.
  if (pad && padding !== (tail === 0 ? 0 : 4 - tail)) return null;
  const out = new SafeUint8Array((count >> 2) * 3 + (tail === 0 ? 0 : tail - 1));
  let o = 0;
  let i = 0;
  for (; i + 3 < count; i += 4) {
    const n = (digits[i] << 18) | (digits[i + 1] << 12) | (digits[i + 2] << 6) | digits[i + 3];
    out[o++] = n >> 16;
    out[o++] = (n >> 8) & 255;
    out[o++] = n & 255;
  }
  if (tail >= 2) {
    const n = (digits[i] << 18) | (digits[i + 1] << 12) | (tail === 3 ? digits[i + 2] << 6 : 0);
    out[o++] = n >> 16;
    if (tail === 3) out[o++] = (n >> 8) & 255;
  }
  return out;
}

/**
 * Base64 (standard alphabet, padded) of the text's bytes.
 * @param codec how text becomes bytes. @default UTF8
 * @example b64enc("é") // "w6k="
 */
export function b64enc(text: string, codec: TextBytes = UTF8): string {
  if (text === "") return ""; // every request without a body comes through here
  return encodeBytes(codec.encode(text), true);
}

/** Base64 (standard alphabet, no padding) of the text's bytes. */
export function rawb64enc(text: string, codec: TextBytes = UTF8): string {
  return encodeBytes(codec.encode(text), false);
}

/**
 * Decodes padded base64, falling back to unpadded, and reads the bytes as text. `undefined` on failure.
 * @param codec how bytes become text. @default UTF8
 * @example b64dec("dGVzdHN0cmluZw==") // "teststring"
 */
export function b64dec(text: string, codec: TextBytes = UTF8): string | undefined {
  if (text === "") return "";
  const bytes = decodeBytes(text, true) ?? decodeBytes(text, false);
  return bytes === null ? undefined : codec.decode(bytes);
}

/** Decodes unpadded base64 (standard alphabet) and reads the bytes as text. `undefined` on failure. */
export function rawb64dec(text: string, codec: TextBytes = UTF8): string | undefined {
  const bytes = decodeBytes(text, false);
  return bytes === null ? undefined : codec.decode(bytes);
}
