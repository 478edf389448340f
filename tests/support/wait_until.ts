/** Waiting for a state something reaches in the background, where there is no event to await. */

/**
 * Polls `check` every 50 ms until it holds (a check that throws counts as not yet).
 * @param what the awaited state, for the error message
 * @throws Error naming `what` after `timeoutMs`
 */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await Promise.resolve().then(check).catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
