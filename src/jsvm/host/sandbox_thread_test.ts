import assert from "node:assert/strict";
import type { InitMessage, ToHost } from "../protocol.ts";
import { SandboxThread, type ThreadExit } from "./_sandbox_thread.ts";
import { SharedChannel } from "./_shared_channel.ts";

/** Starts a sandbox thread on `code` and collects what it says until it has loaded (or ended). */
function startSandbox(code: string, memoryLimitMb = 64) {
  const channel = new SharedChannel();
  const init: InitMessage = {
    type: "init",
    id: 0,
    apiId: "api-1",
    orgId: "org-1",
    driver: "otto",
    sources: [{ file: "/plugin.js", code, kind: "middleware", exports: [] }],
    persistState: false,
    timeoutMs: 5_000,
    hostCalls: false,
    quietLoad: false,
    control: channel.control.buffer as SharedArrayBuffer,
    inboxes: channel.inboxes,
    reply: channel.reply,
    outboxes: channel.outboxes,
    load: new SharedArrayBuffer(4),
  };
  const thread = new SandboxThread(memoryLimitMb);
  const loaded = Promise.withResolvers<Extract<ToHost, { type: "loaded" }>>();
  const exited = Promise.withResolvers<ThreadExit>();
  thread.start(init, {
    message: (msg) => msg.type === "loaded" && loaded.resolve(msg),
    messageError: () => loaded.reject(new Error("unreadable message")),
    error: (message) => loaded.reject(new Error(message)),
    exit: (info) => {
      exited.resolve(info);
      loaded.reject(new Error(`the sandbox ended: ${JSON.stringify(info)}`));
    },
  });
  loaded.promise.catch(() => {});
  return { thread, channel, loaded: loaded.promise, exited: exited.promise };
}

Deno.test("SandboxThread: the sandbox gives up every permission before plugin code runs", async () => {
  const { thread, channel, loaded, exited } = startSandbox("var x = 1;");
  const { permissions, issues } = await loaded;
  assert.deepEqual(issues, []);
  assert.deepEqual(Object.keys(permissions).sort(), [
    "env",
    "ffi",
    "import",
    "net",
    "read",
    "run",
    "sys",
    "write",
  ]);
  for (const [name, state] of Object.entries(permissions)) assert.notEqual(state, "granted", name);
  channel.abort(0);
  thread.stop();
  assert.equal((await exited).error, undefined);
});

Deno.test("SandboxThread: a sandbox past its heap limit ends alone, reported as out of memory", async () => {
  const { exited } = startSandbox(
    'var hog = []; for (var i = 0; ; i++) hog.push("x".repeat(1e5) + i);',
    48,
  );
  const info = await exited;
  assert.equal(info.error?.code, "ERR_WORKER_OUT_OF_MEMORY");
  // the gateway's own thread goes on
  assert.equal(JSON.parse("[1]")[0], 1);
});
