/**
 * Host calls: a synchronous call from plugin code (`TykMakeHttpRequest`, `TykGetKeyData`, …) that the host
 * serves while the sandbox waits. Whatever the handler does (returns, throws, rejects), the sandbox gets an
 * answer.
 */
import type { HostCallOp } from "../protocol.ts";

/**
 * Serves one synchronous call made from plugin code; resolves to the string returned to JS, or undefined.
 * `signal` aborts when the call it serves times out or its sandbox dies, so the work can stop.
 */
export type HostCallHandler = (
  op: HostCallOp,
  args: string[],
  signal: AbortSignal,
) => Promise<string | undefined>;

/** What a host call answers: the text returned to JS (undefined for none), or why it failed. */
export type HostCallAnswer = { value: string | undefined } | { error: string };

/**
 * Runs `handler` (none: the call returns undefined) and never rejects: a throw or a rejection becomes
 * `{ error }` with its message, and a value becomes its text.
 */
export function answerHostCall(
  handler: HostCallHandler | undefined,
  call: { op: HostCallOp; args: string[] },
  signal: AbortSignal,
): Promise<HostCallAnswer> {
  let pending: Promise<string | undefined>;
  try {
    pending = handler === undefined ? Promise.resolve(undefined) : handler(call.op, call.args, signal);
  } catch (error) {
    pending = Promise.reject(error);
  }
  return pending.then(
    (value) => ({ value: value === undefined ? undefined : String(value) }),
    (error) => ({ error: error instanceof Error ? error.message : String(error) }),
  );
}
