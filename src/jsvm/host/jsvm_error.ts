/** How a JS call failed, as the sandbox pool reports it to its callers. */

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
