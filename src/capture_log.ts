/** A logger for tests that keeps its lines instead of writing them. */
import type { LogFields, Logger } from "./log.ts";

/** One captured log line. */
export interface LogLine {
  level: string;
  msg: string;
  fields?: LogFields;
}

/** A logger that records every line instead of writing it. */
export function captureLog(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: string) => (msg: string, fields?: LogFields) => void lines.push({ level, msg, fields });
  return {
    lines,
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    announce: at("announce"),
    raw: (text) => void lines.push({ level: "raw", msg: text }),
  };
}
