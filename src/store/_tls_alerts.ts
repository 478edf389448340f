/**
 * Deno's node:tls (2.9) throws some alerts a server sends just after the TLS 1.3 handshake (a client certificate
 * it requires or refuses) from inside its socket read callback: an uncaught error that would end the process,
 * while the socket itself only reports "closed". This guard keeps such an error from ending the process and
 * keeps it, so the connection that failed can give it as its reason.
 */

/** What Deno's TLS layer names its alert errors. */
const ALERT = /^received fatal alert: /;

let installed = false;
let last: { error: Error; at: number } | null = null;

/** Starts catching uncaught TLS alert errors; calling it again does nothing. */
export function guardTlsAlerts(): void {
  if (installed) return;
  installed = true;
  globalThis.addEventListener("error", (event) => {
    const error = event.error;
    if (!(error instanceof Error) || !ALERT.test(error.message)) return;
    event.preventDefault();
    last = { error, at: Date.now() };
  });
}

/** The TLS alert caught at or after `since` (epoch ms), or `null`. */
export function tlsAlertSince(since: number): Error | null {
  return last !== null && last.at >= since ? last.error : null;
}
