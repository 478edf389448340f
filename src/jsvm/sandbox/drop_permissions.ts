/**
 * The first thing a sandbox thread does: give up the permissions it was started with. Its launcher lets it
 * read the sandbox's own code and nothing else (see host/_launcher.ts); once its modules are loaded it
 * needs not even that.
 */

/**
 * Gives up every permission before any plugin code runs: the launcher let this thread read its own code, and
 * nothing else. Then makes sure: reading the very file this module came from must fail.
 * @throws {Error} when the thread can still read it
 */
export function dropPermissions(): Record<string, string> {
  const names = ["read", "write", "net", "env", "run", "ffi", "sys", "import"] as const;
  const states: Record<string, string> = {};
  for (const name of names) states[name] = Deno.permissions.revokeSync({ name }).state;
  // the one thing the launcher allowed: reading this very file
  const self = decodeURIComponent(new URL(import.meta.url).pathname);
  states.read = Deno.permissions.querySync({ name: "read", path: self }).state;
  try {
    Deno.readFileSync(new URL(import.meta.url));
  } catch {
    return states;
  }
  throw new Error("Cannot start the JS sandbox: it can still read files after giving up its permissions");
}
