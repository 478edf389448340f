/**
 * Where a plugin's outbound requests (`TykMakeHttpRequest`, `TykBatchRequest`) may go. Tyk sends them with
 * Go's HTTP client, which speaks only `http` and `https`; the gateway's own `fetch` would also read
 * `file:` URLs with the gateway's permissions (`tyk.conf` and its secret), `data:` and `blob:` URLs. So
 * every outbound URL passes here first, and anything but `http:`/`https:` fails as a bad URL does in Tyk.
 * An API with `jsvm_limits.egress_allow` (our addition) may also reach only the hosts it lists.
 */

import { type EgressRule, ipBytes } from "../../config/egress_rule.ts";

/** The message of a refused scheme, as Go's client words it. */
export const UNSUPPORTED_SCHEME = "unsupported protocol scheme";

/**
 * Parses the URL a plugin asked for; only absolute `http:` and `https:` URLs pass. What is checked is what
 * is sent: callers send the returned URL, never the text again.
 * @example outboundUrl("http://upstream:8080/x").host // "upstream:8080"
 * @throws {TypeError} for a URL that does not parse or names another scheme (`file:`, `data:`, `blob:`…)
 */
export function outboundUrl(text: string): URL {
  const url = new URL(text);
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(`${UNSUPPORTED_SCHEME} "${url.protocol.slice(0, -1)}"`);
  }
  return url;
}

/** An API's `jsvm_limits.egress_allow`, compiled once (see config/egress_rule.ts for the entry forms). */
export interface EgressAllowList {
  rules: readonly EgressRule[];
  /** The port the gateway's admin API listens on: reachable only through an entry that names this port. */
  adminPort: number;
}

/** Whether one rule lets a request go to `hostname`:`port` (`address`: its bytes, when an IP literal). */
function matches(rule: EgressRule, hostname: string, address: number[] | null, port: number): boolean {
  switch (rule.kind) {
    case "host":
      return rule.host === hostname && (rule.port === null || rule.port === port);
    case "subdomains":
      return hostname.endsWith(rule.suffix) && (rule.port === null || rule.port === port);
    case "cidr": {
      if (address === null || address.length !== rule.bytes.length) return false;
      for (let bit = 0; bit < rule.bits; bit++) {
        const mask = 0x80 >> (bit % 8);
        if ((address[bit >> 3] & mask) !== (rule.bytes[bit >> 3] & mask)) return false;
      }
      return true;
    }
  }
}

/**
 * Checks an outbound URL (from `outboundUrl()`) against an API's allow-list.
 * @throws {TypeError} when no entry allows it
 */
export function checkEgress(url: URL, allow: EgressAllowList): void {
  const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
  const address = ipBytes(url.hostname);
  const admin = port === allow.adminPort;
  for (const rule of allow.rules) {
    if (admin && (rule.kind === "cidr" || rule.port !== port)) continue;
    if (matches(rule, url.hostname, address, port)) return;
  }
  throw new TypeError(
    `${url.host} is not in this API's jsvm_limits.egress_allow${
      admin ? " (the gateway's admin port needs an entry with that port)" : ""
    }`,
  );
}
