/**
 * The response Tyk's `forceResponse` writes when a JS hook answers the client itself (a ReturnOverrides
 * code below 400, or with OverrideError): the raw body, the plugin's headers, `Server: tyk` and `Date`.
 */
import type { LogFields, Logger } from "../../log.ts";
import { detectContentType, toHeaderValue } from "../../jsvm/go/http.ts";

const ENCODER = new TextEncoder();
/** Statuses a `Response` must carry without a body (Go writes none for them either). */
const NULL_BODY_STATUS = new Set([204, 205, 304]);
/** Framing headers: the server derives them from the body. */
const FRAMING_HEADERS = new Set(["content-length", "transfer-encoding"]);

/** Where a forced response is logged from. */
export interface ForcedResponseOptions {
  log: Logger;
  logFields: LogFields;
}

function isTykLoop(status: number, headers: Record<string, string>): boolean {
  if (status !== 301 && status !== 302) return false;
  return Object.entries(headers).some(([name, value]) =>
    name.toLowerCase() === "location" && value.startsWith("tyk://")
  );
}

/**
 * Builds the forced response. There is no default Content-Type: one is sniffed from a non-empty body as
 * Go's server does. A 301/302 to `tyk://…` gives Tyk's empty 200 (loops are not supported yet).
 * @throws RangeError when the status cannot be sent (outside 200–599).
 */
export function forcedResponse(
  status: number,
  body: string,
  headers: Record<string, string>,
  options: ForcedResponseOptions,
): Response {
  if (isTykLoop(status, headers)) {
    options.log.warn(
      "tyk:// loops are not supported yet: the redirect is answered with an empty 200, as Tyk does",
      {
        ...options.logFields,
        status,
      },
    );
    return new Response(null, { status: 200 });
  }
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    throw new RangeError(`Cannot send a forced response with status ${status}: it must be from 200 to 599`);
  }
  const out = new Headers();
  for (const [name, value] of Object.entries(headers)) {
    if (FRAMING_HEADERS.has(name.toLowerCase())) continue;
    try {
      out.set(name, toHeaderValue(value));
    } catch {
      options.log.warn(
        `Cannot set response header ${JSON.stringify(name)}: invalid name or value`,
        options.logFields,
      );
    }
  }
  out.set("Server", "tyk");
  out.set("Date", new Date().toUTCString());
  if (NULL_BODY_STATUS.has(status)) return new Response(null, { status, headers: out });
  const bytes = ENCODER.encode(body);
  if (bytes.length > 0 && !out.has("content-type")) out.set("Content-Type", detectContentType(bytes));
  return new Response(bytes, { status, headers: out });
}
