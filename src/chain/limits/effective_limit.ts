/**
 * Which limits apply to a key on one API (Tyk's `GetAccessDefinitionByAPIIDOrSession`): the API's own `limit`
 * in `access_rights` when it is set, with its `allowance_scope`; otherwise the session's top-level fields.
 */
import { type ApiLimit, isEmptyLimit, type Session } from "../../keys/session.ts";

/** The fields of a limit, wherever they came from. */
export type LimitFields = Pick<
  ApiLimit,
  "rate" | "per" | "quota_max" | "quota_remaining" | "quota_renews" | "quota_renewal_rate"
>;

/** The limit in force and the scope its counters are kept under (`""`: none). */
export interface EffectiveLimit {
  limit: LimitFields;
  scope: string;
}

/** The limit that applies to `session` on API `apiId`. */
export function effectiveLimit(session: Session, apiId: string): EffectiveLimit {
  const access = session.access_rights?.[apiId];
  if (access && !isEmptyLimit(access.limit)) {
    return { limit: access.limit, scope: access.allowance_scope ?? "" };
  }
  return { limit: session, scope: "" };
}
