/**
 * Both ends of a response hook inside the sandbox (Tyk's `mw_js_plugin_response.go`): the `response` and
 * `request` arguments of `DoProcessResponse`, built from the gateway's `HookResponse` and `HookRequest`, and
 * the `ResponseEdits` the returned object asks for, decoded as Go decodes `VMResponseReturnObject`.
 */
import { canonicalHeaderKey, toHeaderValue } from "../go/http.ts";
import { decodeGoShaped, GO_INT, GO_STRING, goMap, goSlice, goStruct } from "../go/json.ts";
import type { HookRequest, HookResponse, ResponseEdits } from "../protocol.ts";
import { headersRecord, requestObject } from "./request_hook.ts";

const STRINGS = goSlice(GO_STRING);

const VM_RESPONSE_RETURN = goStruct([
  {
    name: "Response",
    type: goStruct([
      { name: "StatusCode", type: GO_INT },
      { name: "Body", type: GO_STRING },
      { name: "Headers", type: goMap(STRINGS) },
      { name: "SetHeaders", type: goMap(GO_STRING) },
      { name: "DeleteHeaders", type: STRINGS },
    ]),
  },
  // never written back, but Go still decodes it: a value that is not a string fails the hook
  { name: "SessionMeta", type: goMap(GO_STRING) },
]);

/** What `DoProcessResponse` returns, decoded (Tyk's `VMResponseReturnObject`). */
export interface ResponseHookResult {
  Response: {
    StatusCode: number;
    Body: string;
    Headers: Record<string, string[] | null> | null;
    SetHeaders: Record<string, string> | null;
    DeleteHeaders: string[] | null;
  };
  SessionMeta: Record<string, string> | null;
}

/**
 * Decodes the string `DoProcessResponse` returned.
 * @throws GoJsonError as Tyk's `json.Unmarshal` fails: not JSON (`"undefined"`), or a mistyped field.
 */
export function decodeResponseHookResult(returned: string): ResponseHookResult {
  return decodeGoShaped<ResponseHookResult>(returned, VM_RESPONSE_RETURN);
}

/** The `response` argument: status, body text, canonical headers with array values, empty edit lists. */
export function responseObject(response: HookResponse): Record<string, unknown> {
  return {
    StatusCode: response.status,
    Body: response.body,
    Headers: headersRecord(response.headers),
    SetHeaders: {},
    DeleteHeaders: [],
  };
}

/** The `request` argument: a request hook's request object with `Body` `null`, as Tyk passes none. */
export function responseRequestObject(request: HookRequest): Record<string, unknown> {
  const object = requestObject(request);
  object.Body = null;
  return object;
}

/**
 * Decodes what `DoProcessResponse` returned and lists the edits it asks for. Tyk always replaces the body;
 * a body the hook handed back unchanged is reported as `null`, so the gateway keeps the original bytes
 * (compressed or binary ones too).
 * @param sent what the hook was given
 * @param ignoreCanonical `ignore_canonical_mime_header_key`: set header names as written
 * @throws GoJsonError when Go's decoder would refuse the result
 */
export function responseHookEdits(
  returned: string,
  sent: HookResponse,
  ignoreCanonical: boolean,
): ResponseEdits {
  const { Response: response } = decodeResponseHookResult(returned);
  const setHeaders: [string, string][] = [];
  for (const [name, value] of Object.entries(response.SetHeaders ?? {})) {
    setHeaders.push([ignoreCanonical ? name : canonicalHeaderKey(name), toHeaderValue(value)]);
  }
  return {
    status: response.StatusCode,
    body: response.Body === sent.body ? null : response.Body,
    deleteHeaders: response.DeleteHeaders ?? [],
    setHeaders,
  };
}
