/**
 * Merges a key's policies into its session the way Tyk's `policy.Service.Apply` does, at every request (and
 * when a key is created or read): each policy contributes the parts its `partitions` name (all of them when
 * none is set); access rights of the same API are united, the higher quota and the more permissive rate win,
 * `per_api` policies copy each API's own limit and scope its counters. A key without policies only gets
 * `allowance_scope` set to the API for each per-API limit, so its counters are kept per API.
 */
import { type AccessDefinition, type ApiLimit, isEmptyLimit, type Session } from "../keys/session.ts";
import type { Policy, PolicyMap } from "../config/policy.ts";

/** A policy set that cannot be applied to a key; the message names the policy. */
export class PolicyError extends Error {
  override name = "PolicyError";
}

type Limit = ApiLimit & { set_by?: string };
type Rights = Map<string, AccessDefinition & { limit: Limit }>;

interface ApplyState {
  didQuota: Set<string>;
  didRateLimit: Set<string>;
  didAcl: Set<string>;
  didComplexity: Set<string>;
  didPerApi: boolean;
  didPartition: boolean;
}

/** Go's `greaterThanInt64`: -1 means unlimited, which beats any number. */
function greater(first: number, second: number): boolean {
  if (first === -1) return true;
  if (second === -1) return false;
  return first > second;
}

/** Seconds between two requests at this rate; 0 when there is no rate. */
function duration(limit: { rate: number; per: number }): number {
  return limit.rate > 0 && limit.per > 0 ? limit.per / limit.rate : 0;
}

function emptyRate(limit: { rate: number; per: number }): boolean {
  return limit.rate === 0 || limit.per === 0;
}

function policyLimit(policy: Policy): Limit {
  return {
    rate: policy.rate,
    per: policy.per,
    throttle_interval: policy.throttle_interval,
    throttle_retry_limit: policy.throttle_retry_limit,
    max_query_depth: policy.max_query_depth,
    quota_max: policy.quota_max,
    quota_renews: 0,
    quota_remaining: 0,
    quota_renewal_rate: policy.quota_renewal_rate,
    smoothing: null,
  };
}

function appendMissing(list: string[], more: string[]): string[] {
  const out = [...list];
  for (const item of more) if (!out.includes(item)) out.push(item);
  return out;
}

function copy<T>(value: T): T {
  return structuredClone(value);
}

/** The policy ids of a session: `apply_policies`, else the deprecated `apply_policy_id`. */
export function policyIds(session: Session): string[] {
  if (session.apply_policies?.length) return session.apply_policies;
  return session.apply_policy_id ? [session.apply_policy_id] : [];
}

/** Tyk's `ClearSession`: the parts policies set start from zero, so a lower key value cannot shadow them. */
function clearSession(session: Session, policies: Policy[]): void {
  for (const policy of policies) {
    const p = policy.partitions;
    const all = !(p.quota || p.rate_limit || p.acl || p.complexity);
    if (p.quota || all) {
      session.quota_max = 0;
      session.quota_remaining = 0;
    }
    if (p.rate_limit || all) {
      session.rate = 0;
      session.per = 0;
      session.smoothing = null;
      session.throttle_retry_limit = 0;
      session.throttle_interval = 0;
    }
    if (p.complexity || all) session.max_query_depth = 0;
  }
}

function applyRateLimits(session: Session, policy: Policy, apiLimit: Limit): void {
  const fromPolicy = policyLimit(policy);
  if (emptyRate(fromPolicy)) return;
  if (emptyRate(apiLimit) || duration(apiLimit) > duration(fromPolicy)) {
    apiLimit.rate = fromPolicy.rate;
    apiLimit.per = fromPolicy.per;
    apiLimit.smoothing = null;
  }
  if (emptyRate(session) || duration(session) > duration(fromPolicy)) {
    session.rate = fromPolicy.rate;
    session.per = fromPolicy.per;
    session.smoothing = null;
  }
}

function applyApiLevelLimits(
  fromPolicy: AccessDefinition & { limit: Limit },
  current: AccessDefinition & { limit: Limit },
) {
  const limit = fromPolicy.limit;
  if (duration(limit) > duration(current.limit)) {
    limit.per = current.limit.per;
    limit.rate = current.limit.rate;
    limit.smoothing = current.limit.smoothing;
  }
  if (greater(current.limit.quota_max, limit.quota_max)) limit.quota_max = current.limit.quota_max;
  if (greater(current.limit.quota_renewal_rate, limit.quota_renewal_rate)) {
    limit.quota_renewal_rate = current.limit.quota_renewal_rate;
  }
  if (limit.quota_max === -1) limit.quota_renewal_rate = 0;
  return fromPolicy;
}

function applyPerApi(policy: Policy, session: Session, rights: Rights, state: ApplyState): void {
  if (state.didPartition) {
    throw new PolicyError(
      "cannot apply multiple policies when some have per_api set and some are partitioned",
    );
  }
  for (const [apiId, given] of Object.entries(policy.access_rights)) {
    let access = copy(given) as AccessDefinition & { limit: Limit };
    let scope = apiId;
    if (isEmptyLimit(access.limit)) {
      scope = policy.id;
      access.limit = policyLimit(policy);
    }
    access.allowance_scope = scope;
    access.limit.set_by = scope;
    const own = session.access_rights?.[apiId];
    if (own && !isEmptyLimit(own.limit)) access.limit.quota_renews = own.limit.quota_renews;
    if (own?.disable_introspection) access.disable_introspection = true;
    const current = rights.get(apiId);
    if (current) access = applyApiLevelLimits(access, current);
    rights.set(apiId, access);
    state.didAcl.add(apiId);
    state.didQuota.add(apiId);
    state.didRateLimit.add(apiId);
    state.didComplexity.add(apiId);
  }
  if (Object.keys(policy.access_rights).length > 0) state.didPerApi = true;
}

function applyPartitions(policy: Policy, session: Session, rights: Rights, state: ApplyState): void {
  const p = policy.partitions;
  const usePartitions = p.quota || p.rate_limit || p.acl || p.complexity;
  if (usePartitions && state.didPerApi) {
    throw new PolicyError(
      "cannot apply multiple policies when some have per_api set and some are partitioned",
    );
  }
  for (const [apiId, given] of Object.entries(policy.access_rights)) {
    let access = copy(given) as AccessDefinition & { limit: Limit };
    if (!usePartitions || p.acl) {
      state.didAcl.add(apiId);
      const current = rights.get(apiId);
      if (current) {
        if (given.disable_introspection) current.disable_introspection = true;
        current.versions = appendMissing(current.versions ?? [], given.versions ?? []);
        for (const url of given.allowed_urls ?? []) {
          const same = current.allowed_urls.find((existing) => existing.url === url.url);
          if (same) same.methods = appendMissing(same.methods ?? [], url.methods ?? []);
          else current.allowed_urls.push(copy(url));
        }
        access = current;
      }
      access.limit.set_by = policy.id;
    }
    if (!usePartitions || p.quota) {
      state.didQuota.add(apiId);
      if (greater(policy.quota_max, access.limit.quota_max)) {
        access.limit.quota_max = policy.quota_max;
        if (greater(policy.quota_max, session.quota_max)) session.quota_max = policy.quota_max;
      }
      if (policy.quota_renewal_rate > access.limit.quota_renewal_rate) {
        access.limit.quota_renewal_rate = policy.quota_renewal_rate;
        if (policy.quota_renewal_rate > session.quota_renewal_rate) {
          session.quota_renewal_rate = policy.quota_renewal_rate;
        }
      }
    }
    if (!usePartitions || p.rate_limit) {
      state.didRateLimit.add(apiId);
      applyRateLimits(session, policy, access.limit);
      if (policy.throttle_retry_limit > access.limit.throttle_retry_limit) {
        access.limit.throttle_retry_limit = policy.throttle_retry_limit;
        session.throttle_retry_limit = Math.max(session.throttle_retry_limit, policy.throttle_retry_limit);
      }
      if (policy.throttle_interval > access.limit.throttle_interval) {
        access.limit.throttle_interval = policy.throttle_interval;
        session.throttle_interval = Math.max(session.throttle_interval, policy.throttle_interval);
      }
    }
    if (!usePartitions || p.complexity) {
      state.didComplexity.add(apiId);
      if (greater(policy.max_query_depth, access.limit.max_query_depth)) {
        access.limit.max_query_depth = policy.max_query_depth;
        if (greater(policy.max_query_depth, session.max_query_depth)) {
          session.max_query_depth = policy.max_query_depth;
        }
      }
    }
    const own = session.access_rights?.[apiId];
    if (own && !isEmptyLimit(own.limit)) access.limit.quota_renews = own.limit.quota_renews;
    rights.set(apiId, access);
  }
  if (Object.keys(policy.access_rights).length === 0) {
    // a policy without access rights sets the key's own limits
    if (!usePartitions || p.rate_limit) {
      session.rate = policy.rate;
      session.per = policy.per;
      session.smoothing = null;
      session.throttle_interval = policy.throttle_interval;
      session.throttle_retry_limit = policy.throttle_retry_limit;
    }
    if (!usePartitions || p.complexity) session.max_query_depth = policy.max_query_depth;
    if (!usePartitions || p.quota) {
      session.quota_max = policy.quota_max;
      session.quota_renewal_rate = policy.quota_renewal_rate;
    }
  }
  session.hmac_enabled ||= policy.hmac_enabled;
  session.enable_http_signature_validation ||= policy.enable_http_signature_validation;
  state.didPartition = usePartitions;
}

/**
 * Applies the session's policies to it, in place.
 * @param orgId the API's organisation: a policy of another org is refused; `undefined` skips the check
 * @throws {PolicyError} for an unknown policy (when it is the only one), a policy of another org, mixed
 * per-API and partitioned policies, or policies that leave the key without access rights
 */
export function applyPolicies(session: Session, policies: PolicyMap, orgId?: string): void {
  const ids = policyIds(session);
  if (ids.length === 0) {
    for (const [apiId, access] of Object.entries(session.access_rights ?? {})) {
      if (!isEmptyLimit(access.limit)) access.allowance_scope = apiId;
    }
    return;
  }
  const found: Policy[] = [];
  for (const id of ids) {
    const policy = policies.get(id);
    if (policy) found.push(policy);
    else if (ids.length === 1) throw new PolicyError(`policy not found: "${id}"`);
  }
  clearSession(session, found);
  const state: ApplyState = {
    didQuota: new Set(),
    didRateLimit: new Set(),
    didAcl: new Set(),
    didComplexity: new Set(),
    didPerApi: false,
    didPartition: false,
  };
  const rights: Rights = new Map();
  const tags = new Set<string>();
  session.meta_data ??= {};
  for (const policy of found) {
    if (orgId !== undefined && policy.org_id !== orgId) {
      throw new PolicyError(`policy "${policy.id}" belongs to org "${policy.org_id}", not "${orgId}"`);
    }
    const p = policy.partitions;
    if (p.per_api && (p.quota || p.rate_limit || p.acl || p.complexity)) {
      throw new PolicyError(`cannot apply policy ${policy.id} which has per_api and any of partitions set`);
    }
    if (p.per_api) applyPerApi(policy, session, rights, state);
    else applyPartitions(policy, session, rights, state);
    session.is_inactive ||= policy.is_inactive;
    for (const tag of policy.tags) tags.add(tag);
    Object.assign(session.meta_data, policy.meta_data);
    if (policy.last_updated > session.last_updated) session.last_updated = policy.last_updated;
  }
  for (const tag of session.tags ?? []) tags.add(tag);
  session.tags = [...tags];

  const setters = new Set([...rights.values()].map((access) => access.limit.set_by).filter(Boolean));
  for (const [apiId, access] of rights) {
    if (!state.didAcl.has(apiId)) {
      rights.delete(apiId);
      continue;
    }
    const limit = access.limit;
    if (!state.didRateLimit.has(apiId)) {
      limit.rate = session.rate;
      limit.per = session.per;
      limit.smoothing = session.smoothing;
      limit.throttle_interval = session.throttle_interval;
      limit.throttle_retry_limit = session.throttle_retry_limit;
    }
    if (!state.didComplexity.has(apiId)) limit.max_query_depth = session.max_query_depth;
    if (!state.didQuota.has(apiId)) {
      limit.quota_max = session.quota_max;
      limit.quota_renewal_rate = session.quota_renewal_rate;
      limit.quota_renews = session.quota_renews;
    }
    if (setters.size > 1 && !access.allowance_scope && limit.set_by) access.allowance_scope = limit.set_by;
    delete limit.set_by;
  }
  // Policies that set rules for a single API also set the key's top-level limits (Tyk's legacy behaviour).
  if (state.didQuota.size === 1 && state.didRateLimit.size === 1 && state.didComplexity.size === 1) {
    for (const access of rights.values()) {
      session.rate = access.limit.rate;
      session.per = access.limit.per;
      session.smoothing = access.limit.smoothing;
      session.quota_max = access.limit.quota_max;
      session.quota_renews = access.limit.quota_renews;
      session.quota_renewal_rate = access.limit.quota_renewal_rate;
      session.max_query_depth = access.limit.max_query_depth;
    }
  }
  if (state.didAcl.size > 0) session.access_rights = Object.fromEntries(rights);
  if (rights.size === 0) throw new PolicyError("key has no valid policies to be applied");
}
