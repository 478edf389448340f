/** How a JS call failed, as the sandbox pool reports it to its callers. */
import type { CallFailure } from "../protocol.ts";

/**
 * What went wrong with a call: `threw` (plugin exception), `missing` (no such function), `decode` (a hook
 * result Go's JSON decoder would refuse), `timeout`, `crashed` (the sandbox died), `closed` (the pool is
 * closed).
 */
export type JsvmErrorKind = "timeout" | "threw" | "missing" | "decode" | "crashed" | "closed";

/** A failed call: `kind` tells the caller what happened; message and file:line are for the log. */
export class JsvmError extends Error {
  override name = "JsvmError";
  /** The plugin file the exception came from, when known. */
  file?: string;
  /** The line within `file`. */
  line?: number;
  constructor(
    readonly kind: JsvmErrorKind,
    message: string,
    options?: { file?: string; line?: number; cause?: unknown },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    if (options?.file !== undefined) this.file = options.file;
    if (options?.line !== undefined) this.line = options.line;
  }
}

/**
 * The error a call's failure outcome stands for: the sandbox's `CallFailure` JSON, with any kind but
 * `missing` and `decode` read as `threw`.
 */
export function failureError(text: string): JsvmError {
  let failure: CallFailure;
  try {
    failure = JSON.parse(text);
  } catch {
    failure = { kind: "threw", message: "JS sandbox sent an unreadable failure" };
  }
  const { kind, message, file, line } = failure;
  const known = kind === "missing" || kind === "decode" ? kind : "threw";
  return new JsvmError(known, String(message), { file, line });
}
