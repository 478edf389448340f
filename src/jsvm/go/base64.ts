/**
 * Base64 as Go's `encoding/base64` StdEncoding does it, for the bodies and inline code that cross the
 * JSVM boundary.
 *
 * Runs on both sides; inside the sandbox, after plugin code (`sandbox/request_hook.ts`), with built-ins used
 * directly, as `sandbox/_primordials.ts` allows for code that only shapes a plugin's own result.
 */

const STD_ALPHABET = /^[A-Za-z0-9+/]*={0,2}$/;
const LINE_BREAKS = /[\r\n]/g;

/** Encodes bytes with the standard, padded alphabet. */
export function encodeBase64(bytes: Uint8Array): string {
  return bytes.toBase64();
}

/**
 * Decodes like Go's `base64.StdEncoding.DecodeString`: padding required, `\r` and `\n` skipped, any other
 * stray character rejected.
 * @returns the bytes, or `null` when the text is not valid padded base64.
 */
export function decodeBase64(text: string): Uint8Array | null {
  const compact = text.includes("\n") || text.includes("\r") ? text.replace(LINE_BREAKS, "") : text;
  if (compact.length % 4 !== 0 || !STD_ALPHABET.test(compact)) return null;
  try {
    return Uint8Array.fromBase64(compact, { lastChunkHandling: "loose" });
  } catch {
    return null;
  }
}
