/** JSON text → value, with syntax errors that point at a line and column. */

function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  const column = offset - (before.lastIndexOf("\n") + 1) + 1;
  return `line ${line} column ${column}`;
}

/** Rewrites V8's `JSON.parse` message to name a line and column instead of an offset. */
function syntaxDetail(text: string, message: string): string {
  const located = /^(.*?) in JSON at position (\d+)/s.exec(message);
  if (located) return `${located[1]} at ${lineColumn(text, Number(located[2]))}`;
  if (message.startsWith("Unexpected end of JSON input")) {
    return `Unexpected end of JSON input at ${lineColumn(text, text.length)}`;
  }
  // V8 quotes the whole input after the token; drop that echo, it can be the entire file.
  const token = /^(Unexpected token .*?), ".*" is not valid JSON$/s.exec(message);
  return token ? token[1] : message;
}

/**
 * Parses JSON text (a leading byte-order mark is allowed).
 * @throws {SyntaxError} whose message reads `Unexpected token … at line 3 column 5`
 */
export function parseJsonText(text: string): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    return JSON.parse(body);
  } catch (err) {
    throw new SyntaxError(syntaxDetail(body, (err as Error).message));
  }
}
