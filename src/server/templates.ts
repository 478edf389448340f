/**
 * Reads Tyk's error templates (`error.json`, `error_<code>.xml`, …) from template_path once at start-up.
 */
import type { Logger } from "../log.ts";

/** Loads every `error*.json|xml` in `dir`; a missing folder means the built-in bodies are used. */
export async function loadErrorTemplates(dir: string, log: Logger): Promise<Map<string, string>> {
  const templates = new Map<string, string>();
  if (!dir) return templates;
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile && /^error(_\d{3})?\.(json|xml)$/.test(entry.name)) {
        templates.set(entry.name, await Deno.readTextFile(`${dir}/${entry.name}`));
      }
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) {
      log.warn("Cannot read error templates; using the built-in bodies", { dir, error: String(err) });
    }
  }
  return templates;
}
