/**
 * Maps a request path to an API: every API answers on its listen path and on
 * `/<api_id>/`, longest prefix first. Built once per reload; matching is a scan of pre-sorted prefixes.
 */

/** What the router needs from a loaded API. */
export interface Routable {
  readonly apiId: string;
  readonly listenPath: string;
}

/** A match: the API and the prefix it was found by (the listen path or the `/<api_id>/` alias). */
export interface RouteMatch<T> {
  api: T;
  prefix: string;
}

interface Route<T> {
  prefix: string;
  /** Strict routes: a prefix without trailing slash matches only itself or itself followed by `/`. */
  strict: boolean;
  api: T;
}

/** Routing options from `http_server_options`. */
export interface RouterOptions {
  /** enable_strict_routes. @default false */
  strictRoutes?: boolean;
}

/** An immutable routing table; a reload builds a new one. */
export class Router<T extends Routable> {
  readonly #routes: Route<T>[];

  constructor(apis: Iterable<T>, options: RouterOptions = {}) {
    const routes: Route<T>[] = [];
    for (const api of apis) {
      const strict = options.strictRoutes === true && !api.listenPath.endsWith("/");
      routes.push({ prefix: api.listenPath, strict, api });
      routes.push({ prefix: `/${api.apiId}/`, strict: false, api });
    }
    // A stable sort keeps load order among equal lengths, so the first loaded API wins a tie
    this.#routes = routes.sort((a, b) => b.prefix.length - a.prefix.length);
  }

  /** Finds the API for a path, or `null` (Tyk answers 404 `Not Found`). */
  match(path: string): RouteMatch<T> | null {
    for (const route of this.#routes) {
      if (!path.startsWith(route.prefix)) continue;
      if (route.strict && path.length > route.prefix.length && path[route.prefix.length] !== "/") continue;
      return { api: route.api, prefix: route.prefix };
    }
    return null;
  }

  /** Every routed API once, in load order. */
  get apis(): T[] {
    return [...new Set(this.#routes.map((r) => r.api))];
  }
}
