/**
 * Tyk's session record (`user.SessionState`) as stored under `apikey-…`. Reading accepts the three forms
 * Tyk has written: v3 (`null`s), v5.8 (every field) and v5.12+ (zero fields omitted); missing or `null`
 * becomes the zero value and unknown fields are kept. Writing emits every field in Tyk's order (v5.8 style),
 * which every Tyk version reads.
 */
import { z } from "zod";

/** Go's zero `time.Time` as JSON, what Tyk writes for an unset `date_created`. */
export const ZERO_TIME = "0001-01-01T00:00:00Z";

const num = () => z.number().nullish().transform((v) => v ?? 0);
const str = () => z.string().nullish().transform((v) => v ?? "");
const bool = () => z.boolean().nullish().transform((v) => v ?? false);
const strings = () => z.array(z.string()).nullish().transform((v) => v ?? []);
const list = () => z.array(z.unknown()).nullish().transform((v) => v ?? []);

/** Rate-limit smoothing settings (`apidef.RateLimitSmoothing`). */
const smoothingSchema = z.looseObject({
  enabled: bool(),
  threshold: num(),
  trigger: num(),
  step: num(),
  delay: num(),
});
const smoothing = () => smoothingSchema.nullish().transform((v) => v ?? null);

/** Per-API limits inside an access definition (`user.APILimit`). */
export const apiLimitSchema = z.looseObject({
  rate: num(),
  per: num(),
  throttle_interval: num(),
  throttle_retry_limit: num(),
  max_query_depth: num(),
  quota_max: num(),
  quota_renews: num(),
  quota_remaining: num(),
  quota_renewal_rate: num(),
  smoothing: smoothing(),
});

const accessSpecSchema = z.looseObject({ url: str(), methods: strings() });

const endpointSchema = z.looseObject({
  path: str(),
  methods: z.array(
    z.looseObject({
      name: str(),
      limit: z.looseObject({ rate: num(), per: num() }).nullish().transform((v) => v ?? { rate: 0, per: 0 }),
    }),
  ).nullish().transform((v) => v ?? []),
});

/** What a key may do on one API (`user.AccessDefinition`). */
export const accessDefinitionSchema = z.looseObject({
  api_name: str(),
  api_id: str(),
  versions: strings(),
  allowed_urls: z.array(accessSpecSchema).nullish().transform((v) => v ?? []),
  restricted_types: list(),
  allowed_types: list(),
  limit: apiLimitSchema.nullish().transform((v) => v ?? apiLimitSchema.parse({})),
  field_access_rights: list(),
  disable_introspection: bool(),
  allowance_scope: str(),
  endpoints: z.array(endpointSchema).nullish().transform((v) => v ?? []),
});

/** The session record of one key (`user.SessionState`), fields in Tyk's JSON order. */
export const sessionSchema = z.looseObject({
  last_check: num(),
  allowance: num(),
  rate: num(),
  per: num(),
  throttle_interval: num(),
  throttle_retry_limit: num(),
  max_query_depth: num(),
  date_created: z.string().nullish().transform((v) => v || ZERO_TIME),
  expires: num(),
  quota_max: num(),
  quota_renews: num(),
  quota_remaining: num(),
  quota_renewal_rate: num(),
  access_rights: z.record(z.string(), accessDefinitionSchema).nullish().transform((v) => v ?? {}),
  org_id: str(),
  oauth_client_id: str(),
  oauth_keys: z.record(z.string(), z.string()).nullish().transform((v) => v ?? {}),
  certificate: str(),
  mtls_static_certificate_bindings: strings(),
  basic_auth_data: z.looseObject({ password: str(), hash_type: str() }).nullish()
    .transform((v) => v ?? { password: "", hash_type: "" }),
  jwt_data: z.looseObject({ secret: str() }).nullish().transform((v) => v ?? { secret: "" }),
  hmac_enabled: bool(),
  enable_http_signature_validation: bool(),
  hmac_string: str(),
  rsa_certificate_id: str(),
  is_inactive: bool(),
  apply_policy_id: str(),
  apply_policies: strings(),
  data_expires: num(),
  monitor: z.looseObject({ trigger_limits: z.array(z.number()).nullish().transform((v) => v ?? []) })
    .nullish()
    .transform((v) => v ?? { trigger_limits: [] }),
  enable_detail_recording: bool(),
  enable_detailed_recording: bool(),
  meta_data: z.record(z.string(), z.unknown()).nullish().transform((v) => v ?? {}),
  tags: strings(),
  alias: str(),
  last_updated: str(),
  id_extractor_deadline: num(),
  session_lifetime: num(),
  post_expiry_action: str(),
  post_expiry_grace_period: num(),
  smoothing: smoothing(),
});

/** A parsed session record; unknown fields are kept as they were read. */
export type Session = z.infer<typeof sessionSchema>;
/** One entry of {@link Session.access_rights}. */
export type AccessDefinition = z.infer<typeof accessDefinitionSchema>;
/** The `limit` of an {@link AccessDefinition}. */
export type ApiLimit = z.infer<typeof apiLimitSchema>;

const EMPTY_SESSION: Readonly<Session> = sessionSchema.parse({});
const EMPTY_ACCESS: Readonly<AccessDefinition> = accessDefinitionSchema.parse({});
const EMPTY_LIMIT: Readonly<ApiLimit> = apiLimitSchema.parse({});
const SESSION_KEYS = Object.keys(sessionSchema.shape);
const ACCESS_KEYS = Object.keys(accessDefinitionSchema.shape);
const LIMIT_KEYS = Object.keys(apiLimitSchema.shape);

/** A session with every field at its zero value. */
export function emptySession(): Session {
  return cloneJson(EMPTY_SESSION) as Session;
}

/**
 * Parses a stored session record.
 * @throws Error naming the first problem, e.g. `Cannot parse session: rate: expected number, received string`.
 */
export function parseSession(text: string): Session {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`Cannot parse session: ${(err as Error).message}`);
  }
  const result = sessionSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
    throw new Error(`Cannot parse session: ${where}${issue.message.replace(/^Invalid input: /, "")}`);
  }
  return result.data;
}

function cloneJson<T>(value: T): T {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) return value.map(cloneJson) as T;
  const out: Record<string, unknown> = {};
  for (const key in value) out[key] = cloneJson((value as Record<string, unknown>)[key]);
  return out as T;
}

/** A deep copy of a session (sessions are plain JSON data; several times faster than `structuredClone`). */
export function cloneSession(session: Session): Session {
  return cloneJson(session);
}

/** Copies `value` with the known keys first, in schema order (zero values filling gaps), then the unknown ones. */
function ordered<T extends Record<string, unknown>>(
  value: T,
  keys: string[],
  empty: Readonly<T>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of keys) out[key] = value[key] ?? empty[key];
  for (const key in value) if (!(key in out)) out[key] = value[key];
  return out;
}

/** Serialises a session as Tyk v5.8 does: every field, Tyk's order, unknown fields after. */
export function serializeSession(session: Session): string {
  const out = ordered(session, SESSION_KEYS, EMPTY_SESSION);
  const rights: Record<string, unknown> = {};
  for (const [apiId, access] of Object.entries(session.access_rights ?? {})) {
    const entry = ordered(access, ACCESS_KEYS, EMPTY_ACCESS);
    entry.limit = ordered(access.limit ?? EMPTY_LIMIT, LIMIT_KEYS, EMPTY_LIMIT);
    rights[apiId] = entry;
  }
  out.access_rights = rights;
  return JSON.stringify(out);
}

/** Tyk's `APILimit.IsEmpty()`: every field at its zero value (`set_by` is the policy merge's own marker). */
export function isEmptyLimit(limit: (ApiLimit & { set_by?: string }) | null | undefined): boolean {
  if (!limit) return true;
  return !(limit.rate || limit.per || limit.throttle_interval || limit.throttle_retry_limit ||
    limit.max_query_depth || limit.quota_max || limit.quota_renews || limit.quota_remaining ||
    limit.quota_renewal_rate || limit.set_by || limit.smoothing?.enabled);
}
