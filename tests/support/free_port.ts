/** Free loopback ports for servers a test starts on a port it must know beforehand. */

/** A port that was free a moment ago on 127.0.0.1 (another process may take it before the caller does). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}
