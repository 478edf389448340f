/**
 * Both ends of a virtual endpoint call inside the sandbox: the request object the
 * function gets, built from the gateway's `HookRequest` (only `Headers`, `Body`, `URL`, `Params` and
 * `Scheme`, unlike a request hook's), and what it returned, decoded as Go decodes Tyk's `VMResponseObject`.
 */
import { decodeBase64 } from "../go/base64.ts";
import { decodeGoShaped, GO_ANY, GO_INT, GO_STRING, goMap, goStruct } from "../go/json.ts";
import { parseQuery } from "../go/url.ts";
import type { HookRequest, VirtualResult } from "../protocol.ts";
import { headersRecord, sortedRecord } from "./request_hook.ts";

const LOSSY = new TextDecoder();
/** Methods whose url-encoded body Go's `ParseForm` reads. */
const FORM_METHODS = new Set(["POST", "PUT", "PATCH"]);

const VM_RESPONSE = goStruct([
  {
    name: "Response",
    type: goStruct([
      { name: "Body", type: GO_STRING },
      { name: "Headers", type: goMap(GO_STRING) },
      { name: "Code", type: GO_INT },
    ]),
  },
  { name: "SessionMeta", type: goMap(GO_ANY) },
]);

interface VmResponse {
  Response: { Body: string; Headers: Record<string, string> | null; Code: number };
  SessionMeta: Record<string, unknown> | null;
}

function contentType(request: HookRequest): string {
  const raw = request.headers;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i] === "content-type") return raw[i + 1].split(";")[0].trim().toLowerCase();
  }
  return "";
}

/**
 * Go's `r.Form` after `ParseForm`: a url-encoded POST, PUT or PATCH body's values first, then the query's,
 * per name.
 */
function formValues(request: HookRequest, body: string): Record<string, string[]> {
  const form =
    FORM_METHODS.has(request.method) && contentType(request) === "application/x-www-form-urlencoded"
      ? parseQuery(body)
      : new Map<string, string[]>();
  for (const [name, values] of parseQuery(request.query)) {
    const list = form.get(name);
    if (list) list.push(...values);
    else form.set(name, values);
  }
  return sortedRecord(form);
}

/**
 * The `request` argument of a virtual endpoint: canonical headers without `Host`, the body as plain text
 * (invalid UTF-8 as U+FFFD, as Go's JSON encoder writes it), the URL, query and form values, the scheme.
 */
export function virtualRequestObject(request: HookRequest): Record<string, unknown> {
  const bytes = decodeBase64(request.body);
  const body = bytes === null ? "" : LOSSY.decode(bytes);
  return {
    Headers: headersRecord(request.headers),
    Body: body,
    URL: request.url,
    Params: formValues(request, body),
    Scheme: request.scheme,
  };
}

/**
 * Decodes what a virtual endpoint returned (normally `TykJsResponse(…)`'s text): field names match
 * case-insensitively, header values must be strings and `Code` an integer, as in Go.
 * @throws GoJsonError when Go's decoder would refuse it (`undefined`, a number as a header value, …)
 */
export function virtualResult(returned: string): VirtualResult {
  const result = decodeGoShaped<VmResponse>(returned, VM_RESPONSE);
  return {
    status: result.Response.Code,
    body: result.Response.Body,
    headers: result.Response.Headers ?? {},
    sessionMeta: result.SessionMeta,
  };
}
