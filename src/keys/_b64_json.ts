/** Decoding of Tyk's base64-JSON key tokens (`ey…`), shared by hashing and token helpers in this folder. */

const B64_STD = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const UTF8 = new TextDecoder();
const ENCODER = new TextEncoder();

/** Reads a string field of a `ey…` token, or `undefined` when the token is not strict base64 JSON or lacks it. */
export function b64JsonField(token: string, field: "org" | "id" | "h"): string | undefined {
  // `ey` is base64 for `{"`; Go's StdEncoding wants padding, so atob's lenient decoding is gated by the regexp.
  if (!token.startsWith("ey") || !B64_STD.test(token)) return undefined;
  let parsed: unknown;
  try {
    const binary = atob(token);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    parsed = JSON.parse(UTF8.decode(bytes));
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== "object") return undefined;
  const value = (parsed as Record<string, unknown>)[field];
  return typeof value === "string" ? value : undefined;
}

/** Encodes text as standard, padded base64 of its UTF-8 bytes (Go's `base64.StdEncoding`). */
export function b64StdEncode(text: string): string {
  const bytes = ENCODER.encode(text);
  let binary = "";
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
  return btoa(binary);
}
