/** Captures the gateway log, which goes to console.error, while a test runs code in this process. */

/**
 * Runs `fn` with console.error captured into `lines`, and restores it once `fn` returns or, when `fn`
 * returns a promise, once that settles.
 */
export function capturingLog<T>(fn: (lines: string[]) => T): T {
  const lines: string[] = [];
  const original = console.error;
  const restore = () => {
    console.error = original;
  };
  console.error = (...args: unknown[]) => lines.push(args.join(" "));
  let result: T;
  try {
    result = fn(lines);
  } catch (err) {
    restore();
    throw err;
  }
  if (result instanceof Promise) return result.finally(restore) as T;
  restore();
  return result;
}
