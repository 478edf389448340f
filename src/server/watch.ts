/**
 * Watches app_path and middleware_path and asks for a reload after changes settle (debounced), so an
 * edited definition or plugin is served without calling `/tyk/reload`.
 */
import type { Logger } from "../log.ts";

/** A running watcher. */
export interface Watcher {
  close(): void;
}

/**
 * Watches the folders that exist among `paths`; `onChange` runs once per burst of changes.
 * @param debounceMs quiet time before `onChange` runs. @default 300
 */
export async function watchFolders(
  paths: string[],
  onChange: () => void,
  log: Logger,
  debounceMs = 300,
): Promise<Watcher> {
  const existing: string[] = [];
  for (const path of new Set(paths)) {
    try {
      if ((await Deno.stat(path)).isDirectory) existing.push(path);
    } catch {
      log.debug("Not watching a folder that does not exist", { path });
    }
  }
  if (existing.length === 0) return { close() {} };
  const watcher = Deno.watchFs(existing, { recursive: true });
  let timer: ReturnType<typeof setTimeout> | undefined;
  (async () => {
    try {
      for await (const event of watcher) {
        if (event.kind === "access") continue;
        clearTimeout(timer);
        timer = setTimeout(onChange, debounceMs);
      }
    } catch (err) {
      log.error("File watcher stopped", { error: String(err) });
    }
  })();
  return {
    close() {
      clearTimeout(timer);
      try {
        watcher.close();
      } catch { /* already closed */ }
    },
  };
}
