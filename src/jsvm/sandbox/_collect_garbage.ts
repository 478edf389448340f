/**
 * One full garbage collection for a sandbox that has started and gone idle. Booting the thread's runtime
 * and modules, hardening, the bootstrap, the code guard's parser and the plugins leave megabytes of garbage
 * (about a quarter of a sandbox's memory), and a sandbox waiting in `Atomics.wait` allocates nothing, so V8
 * would keep it for good.
 *
 * V8 gives `gc` only to contexts made after `--expose-gc` is set: this module sets the flag and takes `gc`
 * from a context made for that alone, before any plugin code runs. Contexts V8 makes later without a
 * snapshot (the code guard's realm) have a `gc` global too; plugin code runs in none of them. The sandbox's
 * own global scope is deserialized from Deno's snapshot and has none. A sandbox's launcher (host/_launcher.ts)
 * uses it too, once its sandbox is running.
 */

import v8 from "node:v8";
import vm from "node:vm";

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

/** Runs a full, blocking garbage collection of this thread's heap. */
export function collectGarbage(): void {
  gc();
}
