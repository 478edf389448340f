/**
 * Tyk's policy object (`user.Policy`) as policy files hold it: validated once, when policies are loaded; the
 * rest of the gateway trusts the parsed shape. Missing or `null` fields become zero values, unknown ones are
 * kept (they are written back unchanged by `/tyk/policies`).
 */
import { z } from "zod";
import { accessDefinitionSchema } from "../keys/session.ts";

const num = () => z.number().nullish().transform((v) => v ?? 0);
const str = () => z.string().nullish().transform((v) => v ?? "");
const bool = () => z.boolean().nullish().transform((v) => v ?? false);

/** `partitions`: which parts of a key a policy sets; none set means all of them. */
const partitionsSchema = z.looseObject({
  quota: bool(),
  rate_limit: bool(),
  complexity: bool(),
  acl: bool(),
  per_api: bool(),
}).nullish().transform((v) =>
  v ?? { quota: false, rate_limit: false, complexity: false, acl: false, per_api: false }
);

/** One policy. */
export const policySchema = z.looseObject({
  _id: str(),
  id: str(),
  name: str(),
  org_id: str(),
  rate: num(),
  per: num(),
  quota_max: num(),
  quota_renewal_rate: num(),
  throttle_interval: num(),
  throttle_retry_limit: num(),
  max_query_depth: num(),
  access_rights: z.record(z.string(), accessDefinitionSchema).nullish().transform((v) => v ?? {}),
  hmac_enabled: bool(),
  enable_http_signature_validation: bool(),
  active: bool(),
  is_inactive: bool(),
  tags: z.array(z.string()).nullish().transform((v) => v ?? []),
  key_expires_in: num(),
  partitions: partitionsSchema,
  last_updated: str(),
  meta_data: z.record(z.string(), z.unknown()).nullish().transform((v) => v ?? {}),
});

/** A parsed policy. */
export type Policy = z.infer<typeof policySchema>;

/** Loaded policies by id. */
export type PolicyMap = ReadonlyMap<string, Policy>;

/**
 * Validates a decoded policy; its id is `id`, else `_id` (as Tyk's loaders fall back).
 * @throws Error naming the field, e.g. `rate: expected number, received string`
 */
export function parsePolicy(json: unknown): Policy {
  const result = policySchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
    throw new Error(`${where}${issue.message.replace(/^Invalid input: /, "")}`);
  }
  const policy = result.data;
  if (!policy.id) policy.id = policy._id;
  return policy;
}
