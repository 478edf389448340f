/**
 * Where a request goes upstream: Tyk's listen-path stripping, single-slash joining and query merging
 * (Tyk's `gateway/reverse_proxy.go`), as a pure function so the proxy does no parsing per request.
 */

/** The parts of an API's proxy settings that decide the upstream URL, resolved at load time. */
export interface UpstreamTarget {
  /** `scheme://host[:port]` of target_url (`ws`→`http`, `wss`→`https`, `h2c`→`http`). */
  origin: string;
  /** The path of target_url, untouched. */
  path: string;
  /** The raw query of target_url, without `?`. */
  query: string;
  /** proxy.strip_listen_path. */
  stripListenPath: boolean;
  /** proxy.disable_strip_slash. */
  disableStripSlash: boolean;
}

const SCHEMES: Record<string, string> = { "ws:": "http:", "wss:": "https:", "h2c:": "http:" };

/**
 * Resolves an API's target_url once.
 * @throws TypeError when target_url is not an absolute URL.
 */
export function createUpstreamTarget(
  targetUrl: string,
  options: { stripListenPath: boolean; disableStripSlash: boolean },
): UpstreamTarget {
  const url = new URL(targetUrl);
  const protocol = SCHEMES[url.protocol] ?? url.protocol;
  return {
    origin: `${protocol}//${url.host}`,
    path: url.pathname,
    query: url.search.slice(1),
    ...options,
  };
}

/** Removes the listen path from a request path; the result always starts with `/`. */
export function stripListenPath(path: string, listenPath: string): string {
  if (!path.startsWith(listenPath)) {
    // `/app` also matches `/app/` requests when the listen path has a trailing slash
    const bare = listenPath.endsWith("/") ? listenPath.slice(0, -1) : listenPath;
    if (bare && path === bare) return "/";
    return path;
  }
  const rest = path.slice(listenPath.length);
  return rest.startsWith("/") ? rest : `/${rest}`;
}

/** `path` without its trailing slashes (a loop: this runs on every proxied request). */
function trimTrailingSlashes(path: string): string {
  let end = path.length;
  while (end > 0 && path.charCodeAt(end - 1) === 0x2f) end--;
  return end === path.length ? path : path.slice(0, end);
}

/** `path` without its leading slashes. */
function trimLeadingSlashes(path: string): string {
  let start = 0;
  while (start < path.length && path.charCodeAt(start) === 0x2f) start++;
  return start === 0 ? path : path.slice(start);
}

function joinPaths(targetPath: string, requestPath: string, disableStripSlash: boolean): string {
  if (requestPath === "" || requestPath === "/") {
    if (disableStripSlash) return targetPath || "/";
    return trimTrailingSlashes(targetPath) || "/";
  }
  return `${trimTrailingSlashes(targetPath)}/${trimLeadingSlashes(requestPath)}`;
}

/**
 * The request target (path and query) sent upstream for a gateway-side path and query of a request routed
 * by `listenPath`.
 * @example
 * const t = createUpstreamTarget("http://u:9000/base/?a=1", { stripListenPath: true, disableStripSlash: false });
 * upstreamRequestTarget(t, "/api/", "/api/users", "b=2"); // "/base/users?a=1&b=2"
 */
export function upstreamRequestTarget(
  target: UpstreamTarget,
  listenPath: string,
  path: string,
  query: string,
): string {
  const requestPath = target.stripListenPath ? stripListenPath(path, listenPath) : path;
  const joined = joinPaths(target.path, requestPath, target.disableStripSlash);
  const q = target.query && query ? `${target.query}&${query}` : target.query || query;
  return q ? `${joined}?${q}` : joined;
}
