/**
 * Which path each API listens on when several share one (Tyk's `TestApiHandlerPostDupPath`): the API that
 * served the path before keeps it, or, when none did, the first in load order that had not been moved;
 * every other one moves to `<listen_path>-<api_id>`, with `_` added until the path is free. A moved API
 * stays moved while the path is contested, and gets its own path back once it is not.
 */

/** What the assignment reads from a loaded API. */
export interface Listening {
  readonly apiId: string;
  /** The path it is served on (its definition's, unless it was moved). */
  readonly listenPath: string;
  readonly def: { readonly proxy: { readonly listen_path: string } };
}

/** A move, for the log. */
export interface ListenPathMove {
  apiId: string;
  from: string;
  to: string;
  /** The API that kept the path, if any. */
  keptBy: string | null;
}

/**
 * Assigns listen paths to the APIs of a reload.
 * @param previous the APIs served before this reload, with the paths they were served on
 * @returns the APIs in the same order, a moved or restored one as a copy with its new `listenPath`
 */
export function assignListenPaths<T extends Listening>(
  apis: readonly T[],
  previous: readonly Listening[],
): { apis: T[]; moves: ListenPathMove[] } {
  const before = new Map(previous.map((api) => [api.apiId, api]));
  const movedBefore = (api: T) => {
    const old = before.get(api.apiId);
    return old !== undefined && old.listenPath !== old.def.proxy.listen_path;
  };
  const groups = new Map<string, T[]>();
  for (const api of apis) {
    const group = groups.get(api.def.proxy.listen_path);
    if (group) group.push(api);
    else groups.set(api.def.proxy.listen_path, [api]);
  }
  // every defined path is spoken for, so a moved API never lands on another API's own path
  const taken = new Set(groups.keys());
  const moves: ListenPathMove[] = [];
  const owners = new Map<string, T | null>();
  for (const [path, group] of groups) {
    if (group.length === 1) continue;
    owners.set(
      path,
      group.find((api) => before.get(api.apiId)?.listenPath === path) ??
        group.find((api) => !movedBefore(api)) ?? null,
    );
  }
  const assigned = apis.map((api) => {
    const path = api.def.proxy.listen_path;
    const owner = owners.get(path);
    let served = path;
    if (owner !== undefined && owner !== api) {
      served = `${path}-${api.apiId}`;
      while (taken.has(served)) served += "_";
      taken.add(served);
      moves.push({ apiId: api.apiId, from: path, to: served, keptBy: owner?.apiId ?? null });
    }
    return served === api.listenPath ? api : { ...api, listenPath: served };
  });
  return { apis: assigned, moves };
}
