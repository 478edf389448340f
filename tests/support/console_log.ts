/** Captures the gateway log, which goes to console.error, while a test runs code in this process. */

/** Runs `fn` with console.error captured into `lines`, restoring it afterwards. */
export async function capturingLog<T>(fn: (lines: string[]) => Promise<T>): Promise<T> {
  const lines: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => lines.push(args.join(" "));
  try {
    return await fn(lines);
  } finally {
    console.error = original;
  }
}
