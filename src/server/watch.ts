/**
 * Watches app_path and middleware_path and asks for a reload after changes settle (debounced), so an
 * edited definition or plugin is served without calling `/tyk/reload`. A folder that does not exist yet
 * (a new user's `middleware/`) is watched from the moment it is created.
 */
import { dirname } from "node:path";
import type { Logger } from "../log.ts";

/** A running watcher. */
export interface Watcher {
  /** How many changes it has seen so far; a reload compares it before and after reading the files. */
  readonly changes: number;
  close(): void;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

/**
 * Watches `paths` (recursively); `onChange` runs once per burst of changes.
 * @param debounceMs quiet time before `onChange` runs. @default 300
 */
export async function watchFolders(
  paths: string[],
  onChange: () => void,
  log: Logger,
  debounceMs = 300,
): Promise<Watcher> {
  const watchers = new Set<Deno.FsWatcher>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;
  let changes = 0;
  const changed = () => {
    changes++;
    clearTimeout(timer);
    timer = setTimeout(onChange, debounceMs);
  };
  const pump = async (watcher: Deno.FsWatcher, onEvent: () => void) => {
    try {
      for await (const event of watcher) if (event.kind !== "access") onEvent();
    } catch (err) {
      if (!closed) log.error("File watcher stopped", { error: String(err) });
    }
  };
  const watch = (path: string) => {
    const watcher = Deno.watchFs(path, { recursive: true });
    watchers.add(watcher);
    pump(watcher, changed);
  };
  // Watches the parent until the folder appears, then the folder itself; the reload that follows reads
  // whatever was written into it before its own watcher started
  const watchForCreation = async (path: string) => {
    const parent = dirname(path);
    if (!(await isDirectory(parent))) {
      log.debug("Not watching a folder whose parent does not exist", { path });
      return;
    }
    const watcher = Deno.watchFs(parent, { recursive: false });
    watchers.add(watcher);
    let created = false;
    pump(watcher, async () => {
      if (created || closed || !(await isDirectory(path)) || created || closed) return;
      created = true;
      watchers.delete(watcher);
      watcher.close();
      watch(path);
      changed();
    });
  };
  for (const path of new Set(paths)) {
    if (await isDirectory(path)) watch(path);
    else await watchForCreation(path);
  }
  return {
    get changes() {
      return changes;
    },
    close() {
      closed = true;
      clearTimeout(timer);
      for (const watcher of watchers) {
        try {
          watcher.close();
        } catch { /* already closed */ }
      }
    },
  };
}
