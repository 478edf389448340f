/**
 * Tyk's `eh_log_handler`: writes each event as a warning, `<prefix>:<Event>`, and for key failures
 * `<prefix>:<Event>:<key>:<origin>:<path>`.
 */
import type { Logger } from "../log.ts";
import type { EventHandler } from "./bus.ts";
import { isKeyFailure } from "./event.ts";

/**
 * Makes a log handler from its `handler_meta` (`prefix`, `disabled`); `null` when disabled.
 * @throws TypeError when `prefix` is not a string
 */
export function createLogHandler(meta: Record<string, unknown>, log: Logger): EventHandler | null {
  if (meta.disabled === true) return null;
  const prefix = meta.prefix ?? "";
  if (typeof prefix !== "string") {
    throw new TypeError(`handler_meta.prefix must be a string, got ${JSON.stringify(prefix)}`);
  }
  return {
    handle(event) {
      let line = `${prefix}:${event.Type}`;
      if (isKeyFailure(event)) line += `:${event.Meta.Key}:${event.Meta.Origin}:${event.Meta.Path}`;
      log.warn(line);
    },
  };
}
