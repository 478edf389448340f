/**
 * What the gateway tells a sandbox about the request a hook runs for: the `HookRequest` JSON, from which
 * the sandbox builds Tyk's request object (`jsvm/sandbox/request_hook.ts`), off this thread.
 */
import { currentUrl, type RequestCtx } from "../context.ts";
import { encodeBase64 } from "../../jsvm/go/base64.ts";
import type { HookRequest } from "../../jsvm/protocol.ts";
import { forEachHeaderLine } from "./header_lines.ts";

/** The base64 sent for a body, kept while the bytes live: the next hook of the request reuses it. */
const SENT_BODY = new WeakMap<Uint8Array, string>();

function bodyBase64(body: Uint8Array): string {
  let text = SENT_BODY.get(body);
  if (text === undefined) {
    text = encodeBase64(body);
    SENT_BODY.set(body, text);
  }
  return text;
}

/**
 * The JSON text of the `HookRequest` for the request as it stands.
 * @param body the buffered request body (see `readBody()`)
 * @param url the URL the plugin sees. @default the current path and query
 */
export function hookRequest(
  ctx: RequestCtx,
  body: Uint8Array,
  ignoreCanonical: boolean,
  url = currentUrl(ctx),
): string {
  const headers: string[] = [];
  // Go's request header map holds one value per line the client sent, not the joined value
  forEachHeaderLine(ctx.headers, ctx.request.headers, (name, value) => headers.push(name, value));
  const request: HookRequest = {
    method: ctx.method,
    requestURI: ctx.requestURI,
    url,
    scheme: ctx.scheme,
    host: ctx.request.headers.get("host") ?? new URL(ctx.request.url).host,
    query: ctx.query,
    headers,
    body: bodyBase64(body),
    ignoreCanonical,
  };
  return JSON.stringify(request);
}
