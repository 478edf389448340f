/**
 * Hop-by-hop headers, which a proxy must not forward in either direction (Go's `httputil.ReverseProxy`,
 * which Tyk's proxy is built on, removes the same list, plus every name the `Connection` header lists).
 */

const NAMES = [
  "connection",
  "proxy-connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
];

/** Names never sent upstream. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set(NAMES);
/** The same without `te`, for a request whose `TE` asked for trailers: Go forwards `Te: trailers`. */
export const HOP_BY_HOP_BUT_TE: ReadonlySet<string> = new Set(NAMES.filter((name) => name !== "te"));

const TRAILERS = /(^|,)\s*trailers\s*(,|$)/i;

/**
 * Prepares request headers for the upstream: removes the names `Connection` lists and answers which fixed
 * hop-by-hop names the client must skip while writing them (cheaper than deleting each from `Headers`).
 */
export function requestHopByHop(headers: Headers): ReadonlySet<string> {
  const connection = headers.get("connection");
  if (connection !== null) {
    for (const name of connection.split(",")) {
      const trimmed = name.trim();
      if (trimmed) headers.delete(trimmed);
    }
  }
  const te = headers.get("te");
  if (te === null || !TRAILERS.test(te)) return HOP_BY_HOP;
  headers.set("te", "trailers");
  return HOP_BY_HOP_BUT_TE;
}

/** Lengths of the hop-by-hop names: most header names are ruled out without lower-casing them. */
const LENGTHS = new Set(NAMES.map((name) => name.length));

/** The response header lines to pass on: hop-by-hop ones and those `Connection` lists are left out. */
export function endToEndLines(lines: [string, string][]): [string, string][] {
  let listed: Set<string> | null = null;
  let drop = false;
  for (let i = 0; i < lines.length; i++) {
    const name = lines[i][0];
    if (!LENGTHS.has(name.length)) continue;
    const lower = name.toLowerCase();
    if (!HOP_BY_HOP.has(lower)) continue;
    drop = true;
    if (lower === "connection") {
      for (const name of lines[i][1].split(",")) (listed ??= new Set()).add(name.trim().toLowerCase());
    }
  }
  if (!drop) return lines;
  const kept: [string, string][] = [];
  for (let i = 0; i < lines.length; i++) {
    const name = lines[i][0];
    if (listed === null && !LENGTHS.has(name.length)) {
      kept.push(lines[i]);
      continue;
    }
    const lower = name.toLowerCase();
    if (!HOP_BY_HOP.has(lower) && !listed?.has(lower)) kept.push(lines[i]);
  }
  return kept;
}
