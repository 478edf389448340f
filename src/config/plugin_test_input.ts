/**
 * The input of the plugin test runner (`POST /tyk/plugins/test` and `deno task plugin-test`): a plugin's
 * source, the hook to run it as, and the request, response, session and `config_data` to run it with.
 * Validated here, with the messages Tyk's runner answers 400 with; keys match like Go's decoder.
 */
import { z } from "zod";
import { parseSession, type Session } from "../keys/session.ts";
import { isPlainObject, issuesText } from "./_fields.ts";
import { foldGoJsonKeys } from "./_go_json_keys.ts";

/** The hooks a plugin can be tested as. */
export const HOOK_TYPES = ["pre", "post", "post_key_auth", "auth_check", "response"] as const;

const headerMap = z.record(z.string(), z.array(z.string(), { error: "must be a list of strings" }), {
  error: "must be an object of string lists",
});

const requestSchema = z.object({
  Method: z.string().optional(),
  Path: z.string().optional(),
  URL: z.string().optional(),
  RequestURI: z.string().optional(),
  Headers: headerMap.optional(),
  Body: z.string().optional(),
  Params: headerMap.optional(),
  Scheme: z.string().optional(),
}, { error: "must be an object" });

const responseSchema = z.object({
  StatusCode: z.int({ error: "must be an integer" }).optional(),
  Body: z.string().optional(),
  Headers: headerMap.optional(),
}, { error: "must be an object" });

const inputSchema = z.object({
  code: z.string({ error: "must be a string" }).optional(),
  hook_type: z.string({ error: "must be a string" }).optional(),
  org_id: z.string({ error: "must be a string" }).optional(),
  api_id: z.string({ error: "must be a string" }).optional(),
  request: requestSchema.optional(),
  response: responseSchema.optional(),
  session: z.unknown().optional(),
  config_data: z.record(z.string(), z.unknown(), { error: "must be an object" }).optional(),
});

/** The request a plugin is tested with; every field may be left out. */
export type PluginTestRequest = z.infer<typeof requestSchema>;
/** The upstream response a response hook is tested with. */
export type PluginTestResponse = z.infer<typeof responseSchema>;

/** A validated test: what to run and with what. */
export interface PluginTestInput {
  code: string;
  hookType: (typeof HOOK_TYPES)[number];
  orgId: string;
  /** @default "__sandbox__" */
  apiId: string;
  request: PluginTestRequest;
  /** Present for `response` hooks. */
  response?: PluginTestResponse;
  /** The session given, validated; `null` when none was given. */
  session: Session | null;
  configData: unknown;
}

/**
 * Validates a decoded request body of the plugin test runner.
 * @returns the input, or the message to answer 400 with (`"code is required"`, …)
 */
export function parsePluginTestInput(json: unknown): PluginTestInput | { error: string } {
  if (!isPlainObject(json)) return { error: "invalid request body: it must be a JSON object" };
  const parsed = inputSchema.safeParse(foldGoJsonKeys(json, inputSchema), { reportInput: true });
  if (!parsed.success) return { error: `invalid request body: ${issuesText(parsed.error.issues)}` };
  const body = parsed.data;
  if (!body.code?.trim()) return { error: "code is required" };
  const hookType = HOOK_TYPES.find((type) => type === body.hook_type);
  if (hookType === undefined) {
    return { error: `invalid hook_type: must be one of ${HOOK_TYPES.join(", ")}` };
  }
  if (!body.org_id?.trim()) return { error: "org_id is required" };
  if (hookType === "response" && body.response === undefined) {
    return { error: "response is required for response hooks" };
  }
  let session: Session | null = null;
  if (body.session !== undefined) {
    try {
      session = parseSession(JSON.stringify(body.session));
    } catch (err) {
      return { error: `invalid session JSON: ${(err as Error).message}` };
    }
  }
  return {
    code: body.code,
    hookType,
    orgId: body.org_id,
    apiId: body.api_id || "__sandbox__",
    request: body.request ?? {},
    response: body.response,
    session,
    configData: body.config_data ?? null,
  };
}
