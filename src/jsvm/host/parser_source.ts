/**
 * The source text of the parser the sandboxes' code guard runs (acorn's UMD build, `dist/acorn.js` beside
 * the module build the `acorn` import resolves to). The host reads it once and hands it to each sandbox,
 * which has no file access and evaluates it in a realm of its own.
 */

let text: string | undefined;

/** Acorn's UMD source, read on first use. */
export function parserSource(): string {
  return text ??= Deno.readTextFileSync(new URL("acorn.js", import.meta.resolve("acorn")));
}
