/** The upstream the benchmarks proxy to: answers "ok" as fast as Deno.serve can. */

/** Starts it on a free loopback port; `stop()` shuts it down. */
export async function startOkUpstream(): Promise<{ url: string; stop(): Promise<void> }> {
  const abort = new AbortController();
  const ready = Promise.withResolvers<number>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: abort.signal, onListen: (a) => ready.resolve(a.port) },
    () => new Response("ok"),
  );
  const url = `http://127.0.0.1:${await ready.promise}`;
  return {
    url,
    async stop() {
      abort.abort();
      await server.finished;
    },
  };
}
