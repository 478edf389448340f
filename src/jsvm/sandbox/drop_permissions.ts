/**
 * The first thing a sandbox thread does: give up the permissions it was started with. Its launcher lets it
 * read the sandbox's own code and nothing else (see host/_launcher.ts); once its modules are loaded it
 * needs not even that.
 */

/** Every permission Deno knows. */
const NAMES = ["read", "write", "net", "env", "run", "ffi", "sys", "import"] as const;

/**
 * Gives up every permission before any plugin code runs, then makes sure by asking again, reading the very
 * file this module came from included (the one thing the launcher allowed). It asks rather than tries: in a
 * terminal, a read the thread may not do makes Deno ask the operator unless the gateway runs with
 * `--no-prompt`.
 * @returns each permission's state, none of them "granted"
 * @throws {Error} when the thread still holds one
 */
export function dropPermissions(): Record<string, string> {
  const states: Record<string, string> = {};
  for (const name of NAMES) {
    Deno.permissions.revokeSync({ name });
    states[name] = Deno.permissions.querySync({ name }).state;
  }
  const self = decodeURIComponent(new URL(import.meta.url).pathname);
  if (Deno.permissions.querySync({ name: "read", path: self }).state === "granted") states.read = "granted";
  const kept = NAMES.filter((name) => states[name] === "granted");
  if (kept.length > 0) {
    throw new Error(`Cannot start the JS sandbox: it still holds ${kept.join(", ")} after giving them up`);
  }
  return states;
}
