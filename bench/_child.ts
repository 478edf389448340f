/** Starts a benchmark server as a child Deno process that prints `listening <port>` when ready. */

/** A running child server. */
export interface ChildServer {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/**
 * Runs `deno run <args>` and waits for its `listening <port>` line.
 * @throws Error when the child exits or stays silent for `timeoutMs`
 */
export async function spawnServer(args: string[], timeoutMs = 60_000): Promise<ChildServer> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args.join(" ")} did not listen: ${seen}`)), timeoutMs);
    (async () => {
      for (;;) {
        const { value, done } = await lines.read();
        if (done) return reject(new Error(`${args.join(" ")} exited: ${seen}`));
        seen += value;
        const m = /listening (\d+)/.exec(seen);
        if (m) {
          clearTimeout(timer);
          return resolve(Number(m[1]));
        }
      }
    })();
  }).catch(async (err) => {
    try {
      child.kill();
    } catch { /* gone */ }
    await child.status;
    throw err;
  });
  // keep draining stdout so the child never blocks on a full pipe
  const drained = (async () => {
    while (!(await lines.read()).done);
  })();
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.status;
      await drained.catch(() => {});
    },
  };
}
