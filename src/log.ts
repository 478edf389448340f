/**
 * The gateway log: one line per event in Tyk's logrus text style
 * (`time=… level=info msg="…" prefix=main api_id=…`), on stderr.
 */

/** Log levels, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const LEVELS: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
let threshold = LEVELS.info;

/** Fields attached to a log line. */
export type LogFields = Record<string, string | number | boolean | undefined>;

/** Sets the lowest level written (`log_level` in tyk.conf, or `TYK_LOGLEVEL`). */
export function setLogLevel(level: LogLevel): void {
  threshold = LEVELS[level] ?? LEVELS.info;
}

function quote(value: string): string {
  return /^[\w.\-/:@]+$/.test(value) ? value : JSON.stringify(value);
}

function write(level: LogLevel, msg: string, fields?: LogFields, always = false): void {
  if (!always && LEVELS[level] < threshold) return;
  let line = `time=${quote(new Date().toISOString())} level=${level} msg=${quote(msg)}`;
  if (fields) {
    for (const [key, value] of Object.entries(fields)) {
      if (value !== undefined) line += ` ${key}=${quote(String(value))}`;
    }
  }
  console.error(line);
}

/** A logger whose lines carry a fixed `prefix` field, as Tyk's do. */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** Writes the text as it is plus a newline (the JSVM's `rawlog`). */
  raw(text: string): void;
  /** An info line written whatever the level: start-up facts an operator always needs (where it listens). */
  announce(msg: string, fields?: LogFields): void;
}

/** Makes a logger for one part of the gateway, e.g. `logger("jsvm")`. */
export function logger(prefix: string): Logger {
  return {
    debug: (msg, fields) => write("debug", msg, { prefix, ...fields }),
    info: (msg, fields) => write("info", msg, { prefix, ...fields }),
    warn: (msg, fields) => write("warn", msg, { prefix, ...fields }),
    error: (msg, fields) => write("error", msg, { prefix, ...fields }),
    raw: (text) => console.error(text),
    announce: (msg, fields) => write("info", msg, { prefix, ...fields }, true),
  };
}
