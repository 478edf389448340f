/** Base64 as API definitions, the JSVM and the echo upstream carry bodies and code. */

/** Base64 of `data`, a string taken as its UTF-8 bytes. */
export function base64(data: string | Uint8Array): string {
  return (typeof data === "string" ? new TextEncoder().encode(data) : data).toBase64();
}

/** The UTF-8 text whose bytes `encoded` holds in base64. */
export function base64Text(encoded: string): string {
  return new TextDecoder().decode(Uint8Array.fromBase64(encoded));
}
