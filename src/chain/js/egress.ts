/**
 * Where a plugin's outbound requests (`TykMakeHttpRequest`, `TykBatchRequest`) may go. Tyk sends them with
 * Go's HTTP client, which speaks only `http` and `https`; the gateway's own `fetch` would also read
 * `file:` URLs with the gateway's permissions (`tyk.conf` and its secret), `data:` and `blob:` URLs. So
 * every outbound URL passes here first, and anything but `http:`/`https:` fails as a bad URL does in Tyk.
 */

/** The message of a refused scheme, as Go's client words it. */
export const UNSUPPORTED_SCHEME = "unsupported protocol scheme";

/**
 * Parses the URL a plugin asked for; only absolute `http:` and `https:` URLs pass. What is checked is what
 * is sent: callers send the returned URL, never the text again.
 * @example outboundUrl("http://upstream:8080/x").host // "upstream:8080"
 * @throws {TypeError} for a URL that does not parse or names another scheme (`file:`, `data:`, `blob:`…)
 */
export function outboundUrl(text: string): URL {
  const url = new URL(text);
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(`${UNSUPPORTED_SCHEME} "${url.protocol.slice(0, -1)}"`);
  }
  return url;
}
