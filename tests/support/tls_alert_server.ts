/**
 * A TLS server that refuses every client after the handshake: `openssl s_server` requiring a client
 * certificate over TLS 1.3, where the handshake completes on the client's side before the server checks
 * the certificate and answers its absence with a fatal alert (`CertificateRequired`).
 */
import { makeSelfSignedCert } from "./tls_cert.ts";

/** A running alert server. */
export interface TlsAlertServer extends AsyncDisposable {
  /** `https://127.0.0.1:<port>` */
  url: string;
}

/** Starts the server on a free port; its certificate is made in `dir`. */
export async function startTlsAlertServer(dir: string): Promise<TlsAlertServer> {
  await makeSelfSignedCert(dir);
  const child = new Deno.Command("openssl", {
    args: [
      "s_server",
      "-accept",
      "127.0.0.1:0",
      "-cert",
      `${dir}/cert.pem`,
      "-key",
      `${dir}/key.pem`,
      "-Verify",
      "1",
      "-tls1_3",
      "-www",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const stop = async () => {
    try {
      child.kill();
    } catch { /* gone */ }
    await child.status;
  };
  // it names the port it took on its "ACCEPT 127.0.0.1:<port>" line, once it listens
  let seen = "";
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let port: string | undefined;
  while (port === undefined) {
    const { value, done } = await reader.read();
    if (done) {
      await stop();
      throw new Error(`openssl s_server exited before listening: ${seen}`);
    }
    seen += value;
    port = /ACCEPT 127\.0\.0\.1:(\d+)/.exec(seen)?.[1];
  }
  // the rest of its output is read and dropped, so the pipe never fills
  const drained = (async () => {
    while (!(await reader.read()).done);
  })();
  return {
    url: `https://127.0.0.1:${port}`,
    async [Symbol.asyncDispose]() {
      await stop();
      await drained;
    },
  };
}
