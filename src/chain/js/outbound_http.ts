/**
 * A plugin's outbound request (`TykMakeHttpRequest`, `TykBatchRequest`) as Go's default `http.Client` sends
 * it for Tyk: `User-Agent: Go-http-client/1.1` unless the plugin set one, gzip asked for and undone
 * transparently unless the plugin set `Accept-Encoding`, redirects followed (at most 10, with Go's method
 * and header rules), and the connection closed afterwards. Bytes go through the gateway's upstream client,
 * so their framing and header names are exact; every URL, redirects included, passes the egress check.
 */
import { checkEgress, type EgressAllowList, outboundUrl } from "./egress.ts";
import { parseOrigin, readAll, type UpstreamClient, type UpstreamResponse } from "../../upstream/client.ts";

/** One outbound request. */
export interface OutboundRequest {
  method: string;
  headers: Headers;
  /** Lower-case name → name as the plugin wrote it (`ignore_canonical_mime_header_key`). */
  headerCase?: Map<string, string>;
  /** Sent with a matching Content-Length on any method, as Go does; empty means no body. */
  body: Uint8Array;
  /** Ends the request, its redirects and the body read. */
  signal: AbortSignal;
  /** Accept any TLS certificate (`proxy_ssl_insecure_skip_verify`). @default false */
  insecure?: boolean;
  /** The API's `jsvm_limits.egress_allow`, checked for every URL, redirects included. @default anywhere */
  egress?: EgressAllowList | null;
}

/** The final response, its body read whole. */
export interface OutboundResponse {
  status: number;
  /** Header lines in order, names as received. */
  headers: [string, string][];
  body: Uint8Array;
}

const MAX_REDIRECTS = 10;
/** Headers Go drops when a redirect leaves the original host (and its subdomains). */
const SENSITIVE = ["authorization", "www-authenticate", "cookie", "cookie2"];

function header(lines: [string, string][], name: string): string | undefined {
  for (const [key, value] of lines) if (key.toLowerCase() === name) return value;
  return undefined;
}

/** Go's `shouldCopyHeaderOnRedirect`: the same host, or a subdomain of it. */
function sameSite(from: URL, to: URL): boolean {
  const a = from.hostname.toLowerCase();
  const b = to.hostname.toLowerCase();
  return a === b || b.endsWith(`.${a}`);
}

/** Reads the body; the signal ends a read that stalls. */
async function readBody(res: UpstreamResponse, signal: AbortSignal): Promise<Uint8Array> {
  if (!(res.body instanceof ReadableStream)) return await readAll(res.body);
  const stream = res.body;
  const onAbort = () => stream.cancel(signal.reason).catch(() => {});
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    return await readAll(stream);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

async function gunzip(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * Sends a plugin's request and reads the final answer.
 * @throws TypeError for a URL (or redirect target) that is not absolute http(s), or not on the allow-list
 * @throws UpstreamError when the upstream cannot be reached or the signal ends the request
 * @throws Error after more than 10 redirects
 */
export async function sendOutbound(
  client: UpstreamClient,
  url: string,
  request: OutboundRequest,
): Promise<OutboundResponse> {
  const allowed = (text: string) => {
    const checked = outboundUrl(text);
    if (request.egress) checkEgress(checked, request.egress);
    return checked;
  };
  let current = allowed(url);
  let method = request.method;
  let body = request.body;
  const headers = new Headers(request.headers);
  if (!headers.has("user-agent")) headers.set("user-agent", "Go-http-client/1.1");
  const askGzip = !headers.has("accept-encoding") && !headers.has("range") && method !== "HEAD";
  if (askGzip) headers.set("accept-encoding", "gzip");
  for (let redirects = 0;; redirects++) {
    const res = await client.send(parseOrigin(current), {
      method,
      target: current.pathname + current.search,
      headers,
      headerCase: request.headerCase,
      body: body.length > 0 ? body : null,
      signal: request.signal,
      insecure: request.insecure,
      close: true,
    });
    const location = res.status >= 300 && res.status < 400 ? header(res.headers, "location") : undefined;
    const redirect = location !== undefined && [301, 302, 303, 307, 308].includes(res.status);
    if (!redirect) {
      let bytes = await readBody(res, request.signal);
      let lines = res.headers;
      if (askGzip && header(lines, "content-encoding")?.toLowerCase() === "gzip") {
        bytes = await gunzip(bytes as Uint8Array<ArrayBuffer>);
        lines = lines.filter(([name]) => !/^content-(encoding|length)$/i.test(name));
      }
      return { status: res.status, headers: lines, body: bytes };
    }
    await readBody(res, request.signal);
    if (redirects + 1 >= MAX_REDIRECTS) throw new Error(`stopped after ${MAX_REDIRECTS} redirects`);
    const next = allowed(new URL(location, current).href);
    // Go: 301, 302 and 303 go on as GET (HEAD stays HEAD) without the body; 307 and 308 repeat the request
    if (res.status !== 307 && res.status !== 308) {
      if (method !== "GET" && method !== "HEAD") method = "GET";
      body = new Uint8Array(0);
    }
    if (!sameSite(current, next)) { for (const name of SENSITIVE) headers.delete(name); }
    current = next;
  }
}
