/**
 * One entry of an API's `jsvm_limits.egress_allow` (our addition): where the API's plugins may send
 * requests through the host API. An entry is a host name (`api.example.com`), a wildcard for its
 * subdomains (`*.example.com`), an IP address (`10.1.2.3`, `[::1]`), any of these with a port
 * (`127.0.0.1:9000`), or a CIDR range (`10.0.0.0/8`, `fd00::/8`). Names and addresses are compared as the
 * URL parser writes them (lower case, `127.1` is `127.0.0.1`); names are not resolved.
 */

/** A parsed entry. */
export type EgressRule =
  | { kind: "host"; host: string; port: number | null }
  | { kind: "subdomains"; suffix: string; port: number | null }
  | { kind: "cidr"; bytes: number[]; bits: number };

/** The bytes of an IPv4 address as the URL parser writes it (`a.b.c.d`), or of an IPv6 one (`[…]`). */
export function ipBytes(hostname: string): number[] | null {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(hostname);
  if (v4) return v4.slice(1).map(Number);
  if (!hostname.startsWith("[") || !hostname.endsWith("]")) return null;
  const [head, tail = null] = hostname.slice(1, -1).split("::");
  const groups = (text: string) => text === "" ? [] : text.split(":").map((g) => parseInt(g, 16));
  const front = groups(head);
  const back = tail === null ? [] : groups(tail);
  const words = [...front, ...Array(8 - front.length - back.length).fill(0), ...back];
  const bytes = words.flatMap((w) => [w >> 8, w & 255]);
  // an IPv4-mapped address (::ffff:a.b.c.d) is that IPv4 address
  const mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 255 && bytes[11] === 255;
  return mapped ? bytes.slice(12) : bytes;
}

/** Parses `host[:port]` the way a URL's authority is parsed. */
function hostAndPort(text: string): { host: string; port: number | null } | null {
  if (!URL.canParse(`http://${text}/`) || /[/?#@]/.test(text)) return null;
  const url = new URL(`http://${text}/`);
  const explicit = /:(\d+)$/.test(text);
  return { host: url.hostname, port: explicit ? Number(url.port || 80) : null };
}

/**
 * Parses one entry.
 * @returns the rule, or null when the entry is none of the forms above
 */
export function parseEgressRule(entry: string): EgressRule | null {
  const slash = entry.indexOf("/");
  if (slash !== -1) {
    const address = entry.slice(0, slash);
    const bitsText = entry.slice(slash + 1);
    const parsed = hostAndPort(address.includes(":") ? `[${address}]` : address);
    const bytes = parsed === null ? null : ipBytes(parsed.host);
    const bits = Number(bitsText);
    if (bytes === null || !/^\d{1,3}$/.test(bitsText) || bits > bytes.length * 8) return null;
    return { kind: "cidr", bytes, bits };
  }
  if (entry.startsWith("*.")) {
    const parsed = hostAndPort(entry.slice(2));
    if (parsed === null || ipBytes(parsed.host) !== null) return null;
    return { kind: "subdomains", suffix: `.${parsed.host}`, port: parsed.port };
  }
  const parsed = hostAndPort(entry);
  return parsed === null || parsed.host === "" ? null : { kind: "host", ...parsed };
}
