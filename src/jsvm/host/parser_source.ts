/**
 * The source text of the parser the sandboxes' code guard runs: acorn's UMD build (`dist/acorn.js`,
 * beside the module build the `acorn` import resolves to). The host reads it once and hands it to each
 * sandbox, which has no file access and evaluates it in a realm of its own.
 */

import { version } from "acorn";

let text: string | undefined;

/**
 * Acorn's UMD source, read on first use.
 * @throws {Error} when the file beside the module build is not the same acorn release
 */
export function parserSource(): string {
  if (text !== undefined) return text;
  const source = Deno.readTextFileSync(new URL("acorn.js", import.meta.resolve("acorn")));
  if (!source.includes(`var version = "${version}";`)) {
    throw new Error(`Cannot start the JS code guard: dist/acorn.js is not acorn ${version}`);
  }
  return text = source;
}
