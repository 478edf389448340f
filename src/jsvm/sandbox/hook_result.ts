/**
 * Tyk's request-hook result (`VMReturnObject` with its `MiniRequestObject`) as Go's JSON decoder fills it,
 * so that a result Tyk would refuse is refused here too. Only the sandbox decodes it
 * (`request_hook.ts`); the gateway receives the edits it asks for.
 */
import {
  decodeGoShaped,
  GO_BOOL,
  GO_BYTES,
  GO_INT,
  GO_OBJECT,
  GO_STRING,
  goMap,
  goSlice,
  goStruct,
} from "../go/json.ts";

/** `Request.ReturnOverrides` of a hook result. */
export interface ReturnOverrides {
  ResponseCode: number;
  ResponseError: string;
  ResponseBody: string;
  ResponseHeaders: Record<string, string> | null;
  OverrideError: boolean;
}

/** `Request` of a hook result (Tyk's MiniRequestObject). `Body` is the validated base64 text. */
export interface MiniRequest {
  Headers: Record<string, string[] | null> | null;
  SetHeaders: Record<string, string> | null;
  DeleteHeaders: string[] | null;
  Body: string | null;
  URL: string;
  Params: Record<string, string[] | null> | null;
  AddParams: Record<string, string> | null;
  ExtendedParams: Record<string, string[] | null> | null;
  DeleteParams: string[] | null;
  ReturnOverrides: ReturnOverrides;
  IgnoreBody: boolean;
  Method: string;
  RequestURI: string;
  Scheme: string;
}

/** What `DoProcessRequest` returns, decoded (Tyk's VMReturnObject). `Session` is left as plain JSON. */
export interface RequestHookResult {
  Request: MiniRequest;
  SessionMeta: Record<string, string> | null;
  Session: Record<string, unknown> | null;
  AuthValue: string;
}

const STRINGS = goSlice(GO_STRING);
const STRING_MAP = goMap(GO_STRING);
const STRINGS_MAP = goMap(STRINGS);

/** Tyk's ReturnOverrides, plus the documented snake_case keys as aliases (see docs/differences.md). */
const RETURN_OVERRIDES = goStruct([
  { name: "ResponseCode", aliases: ["response_code"], type: GO_INT },
  { name: "ResponseError", aliases: ["response_error"], type: GO_STRING },
  { name: "ResponseBody", aliases: ["response_body"], type: GO_STRING },
  { name: "ResponseHeaders", aliases: ["headers"], type: STRING_MAP },
  { name: "OverrideError", aliases: ["override_error"], type: GO_BOOL },
]);

const MINI_REQUEST = goStruct([
  { name: "Headers", type: STRINGS_MAP },
  { name: "SetHeaders", type: STRING_MAP },
  { name: "DeleteHeaders", type: STRINGS },
  { name: "Body", type: GO_BYTES },
  { name: "URL", type: GO_STRING },
  { name: "Params", type: STRINGS_MAP },
  { name: "AddParams", type: STRING_MAP },
  { name: "ExtendedParams", type: STRINGS_MAP },
  { name: "DeleteParams", type: STRINGS },
  { name: "ReturnOverrides", type: RETURN_OVERRIDES },
  { name: "IgnoreBody", type: GO_BOOL },
  { name: "Method", type: GO_STRING },
  { name: "RequestURI", type: GO_STRING },
  { name: "Scheme", type: GO_STRING },
]);

const REQUEST_HOOK_RESULT = goStruct([
  { name: "Request", type: MINI_REQUEST },
  { name: "SessionMeta", type: STRING_MAP },
  { name: "Session", type: GO_OBJECT },
  { name: "AuthValue", type: GO_STRING },
]);

/**
 * Decodes the string `DoProcessRequest` returned (pre, auth_check, post_key_auth and post hooks). Most
 * results are what the bootstrap's `JSON.stringify` wrote, Go-shaped already, and take the fast path.
 * @param stringified `text` is known to be `JSON.stringify` output
 * @throws GoJsonError as Tyk's `json.Unmarshal` fails: not JSON (`"undefined"`), or a mistyped field.
 */
export function decodeRequestHookResult(text: string, stringified = false): RequestHookResult {
  return decodeGoShaped<RequestHookResult>(text, REQUEST_HOOK_RESULT, stringified);
}
