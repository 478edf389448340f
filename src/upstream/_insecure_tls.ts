/**
 * TLS without certificate verification (`proxy_ssl_insecure_skip_verify`), which `Deno.connectTls` cannot do:
 * node:tls's `rejectUnauthorized: false` can, and this adapts its socket to the connection's read/write shape.
 */
import { isIP } from "node:net";
import tls from "node:tls";
import type { Socket } from "./connection.ts";

const HIGH_WATER = 256 * 1024;

function adapt(socket: tls.TLSSocket): Socket {
  const chunks: Uint8Array[] = [];
  let buffered = 0;
  let ended = false;
  /** Why the socket ended, when it failed (a TLS alert the server sent after the handshake): reads say so. */
  let failure: Error | null = null;
  let wake: (() => void) | null = null;
  const notify = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  socket.on("data", (data: Uint8Array) => {
    chunks.push(data);
    buffered += data.length;
    if (buffered > HIGH_WATER) socket.pause();
    notify();
  });
  socket.on("end", () => {
    ended = true;
    notify();
  });
  socket.on("close", () => {
    ended = true;
    notify();
  });
  // always listened to: node:tls emits a server's late alert as an error event, which ends the process unheard
  socket.on("error", (err: Error) => {
    failure = err;
    ended = true;
    notify();
  });
  return {
    async read(buffer) {
      while (chunks.length === 0) {
        if (ended) {
          if (failure !== null) throw failure;
          return null;
        }
        await new Promise<void>((resolve) => wake = resolve);
      }
      const first = chunks[0];
      const n = Math.min(buffer.length, first.length);
      buffer.set(first.subarray(0, n));
      if (n === first.length) chunks.shift();
      else chunks[0] = first.subarray(n);
      buffered -= n;
      if (buffered <= HIGH_WATER && socket.isPaused()) socket.resume();
      return n;
    },
    write(data) {
      return new Promise((resolve, reject) => {
        socket.write(data, (err) => err ? reject(err) : resolve(data.length));
      });
    },
    close() {
      socket.destroy();
    },
  };
}

/** Connects with TLS, accepting any certificate. */
export function connectInsecureTls(hostname: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: hostname,
      port,
      servername: isIP(hostname) ? undefined : hostname,
      rejectUnauthorized: false,
    });
    socket.once("secureConnect", () => {
      socket.off("error", reject);
      resolve(adapt(socket));
    });
    socket.once("error", reject);
  });
}
