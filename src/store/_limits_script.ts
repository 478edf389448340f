/**
 * One request's rate limit and quota as one Redis script, so a keyed request costs one round trip. The keys
 * are Tyk's (`rate-limit-…`, `quota-…`), so they usually hash to different Redis Cluster slots: a cluster
 * client must make two calls, `limitsCall(rate, null)` and then, unless it blocked, `limitsCall(null, quota)`;
 * each part works alone.
 *
 * Rate part (KEYS[1] when ARGV[1] is not empty):
 * - `sliding`: Tyk's rolling limiter. Drop entries at or before now − per, count the rest, add now (blocked
 *   requests are logged too), expire the log after per; blocked when the count before adding reached rate.
 * - `window`: a fixed window opened by the first request and expiring after per; blocked past rate.
 * The time until a slot frees costs one more lookup, made only when ARGV[8] is `1`.
 * Quota part (the next key when ARGV[6] is `1`), run only when the rate part did not block: Tyk's quota step —
 * a counter that is absent, or has no expiry while the quota renews, restarts at 0 for the renewal period,
 * then INCR; blocked requests count too.
 * Reply: `{blocked, remaining, reset_ms, quota_used (-1: not counted), quota_ttl_ms}`.
 */
import type { LimitsResult, QuotaCheck, RateLimitCheck } from "./store.ts";

export const LIMITS_LUA = `
local kind = ARGV[1]
local blocked, remaining, reset = 0, 0, 0
local nextKey = 1
if kind ~= '' then
  local key = KEYS[1]
  nextKey = 2
  local rate = tonumber(ARGV[2])
  local per = tonumber(ARGV[3])
  local wantReset = ARGV[8] == '1'
  if kind == 'sliding' then
    local per_ns = per * 1000000000
    local now = tonumber(ARGV[4])
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now - per_ns)
    local count = redis.call('ZCARD', key)
    redis.call('ZADD', key, ARGV[4], ARGV[5])
    redis.call('EXPIRE', key, per)
    if count >= rate then blocked = 1 end
    remaining = math.max(rate - count - 1, 0)
    if wantReset and rate >= 1 then
      local oldest = redis.call('ZRANGE', key, -rate, -rate, 'WITHSCORES')
      if oldest[2] then reset = math.floor((tonumber(oldest[2]) + per_ns - now) / 1000000 + 0.5) end
    end
  else
    local n = redis.call('INCR', key)
    if n == 1 then
      redis.call('PEXPIRE', key, per * 1000)
      reset = per * 1000
    elseif wantReset then
      reset = redis.call('PTTL', key)
    end
    if n > rate then blocked = 1 end
    remaining = math.max(rate - n, 0)
  end
end
if ARGV[6] ~= '1' or blocked == 1 then return {blocked, remaining, reset, -1, 0} end
local quota = KEYS[nextKey]
local renewal = tonumber(ARGV[7])
local ttl = redis.call('PTTL', quota)
if renewal > 0 and ttl < 0 then
  redis.call('SET', quota, 0, 'PX', renewal)
  ttl = renewal
end
return {blocked, remaining, reset, redis.call('INCR', quota), ttl}`;

/** The keys and arguments of one call of {@link LIMITS_LUA}. */
export interface LimitsCall {
  keys: string[];
  args: string[];
}

/**
 * The script call for a check.
 * @param nowNs the request time in nanoseconds, as Tyk writes sliding-log scores
 * @param member a unique sliding-log member for this request
 */
export function limitsCall(
  rate: RateLimitCheck | null,
  quota: QuotaCheck | null,
  nowNs: string,
  member: string,
): LimitsCall {
  const keys: string[] = [];
  const args = ["", "0", "0", "0", "", "0", "0", "0"];
  if (rate !== null) {
    keys.push(rate.key);
    args.splice(0, 5, rate.kind, String(Math.trunc(rate.rate)), String(Math.trunc(rate.per)), nowNs, member);
    args[7] = rate.reset === false ? "0" : "1";
  }
  if (quota !== null) {
    keys.push(quota.key);
    args.splice(5, 2, "1", String(quota.renewalSeconds > 0 ? Math.round(quota.renewalSeconds * 1000) : 0));
  }
  return { keys, args };
}

/** Reads a reply of {@link LIMITS_LUA} into the parts it checked. */
export function limitsResult(
  reply: unknown,
  rate: RateLimitCheck | null,
  quota: QuotaCheck | null,
): LimitsResult {
  const [blocked, remaining, reset, used, ttl] = (reply as number[]).map(Number);
  return {
    rate: rate === null ? null : { blocked: blocked === 1, remaining, resetMs: Math.max(reset, 0) },
    quota: quota === null || used < 0 ? null : { used, resetMs: ttl < 0 ? -1 : ttl },
  };
}
