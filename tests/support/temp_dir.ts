/** Temporary folders for tests. */

/**
 * Runs `fn` with a fresh temporary folder and removes the folder afterwards, whatever `fn` did.
 * @param prefix the folder name's start, to tell whose folder a leftover is
 */
export async function withDir<T>(fn: (dir: string) => Promise<T>, prefix = "portcullis-test-"): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
