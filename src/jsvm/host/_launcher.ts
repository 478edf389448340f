/**
 * Entry point of a sandbox's launcher: a Worker that starts the sandbox itself as a `node:worker_threads`
 * Worker and reports when that one ends.
 *
 * Why two threads: in Deno 2.9 only `node:worker_threads` Workers take a heap limit (`resourceLimits`);
 * web Workers take permissions but no limit. A `node:worker_threads` Worker shares the permissions of the
 * thread that starts it: started from the gateway it would hold all of the gateway's, and giving them up
 * inside it would give them up for the gateway too. Started from here, it shares this launcher's, which
 * are only read access to the sandbox's own code; the sandbox gives that up too before any plugin code runs.
 */

import { type Transferable as NodeTransferable, Worker as NodeWorker } from "node:worker_threads";
import type { LauncherMessage, LauncherReport } from "./_sandbox_thread.ts";
import { collectGarbage } from "../sandbox/_collect_garbage.ts";

const scope = globalThis as unknown as {
  postMessage(message: LauncherReport): void;
  close(): void;
  onmessage: ((event: MessageEvent<LauncherMessage>) => void) | null;
};
let sandbox: NodeWorker | null = null;

scope.onmessage = (event) => {
  const msg = event.data;
  if (msg.type === "start" && sandbox === null) {
    sandbox = new NodeWorker(new URL(msg.url), {
      resourceLimits: { maxOldGenerationSizeMb: msg.memoryLimitMb },
      // by default the new thread gets a copy of process.env, which this launcher may not read (in a
      // terminal, Deno would ask the operator for env access at every sandbox start)
      env: {},
      workerData: { port: msg.port },
      transferList: [msg.port as unknown as NodeTransferable],
    });
    // What booting this thread and starting the sandbox left is garbage; nothing here allocates again, so
    // V8 would keep it for good (about 2 MB per sandbox)
    sandbox.once("online", collectGarbage);
    sandbox.on("error", (error: Error & { code?: string }) => {
      scope.postMessage({ type: "error", code: error.code ?? "", message: error.message });
    });
    sandbox.on("exit", (code: number) => {
      scope.postMessage({ type: "exit", code });
      scope.close();
    });
  } else if (msg.type === "stop") {
    void sandbox?.terminate();
  }
};
