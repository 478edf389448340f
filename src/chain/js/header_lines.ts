/**
 * The header lines behind a Fetch `Headers` object. Go's `http.Header` keeps one value per header line
 * (two `X-Multi` lines are `["1", "2"]`), while `Headers` joins them with ", " when read. Deno keeps the
 * lines apart inside the object; this reads them there, for the views of requests and responses plugins
 * get, where Tyk hands over Go's map.
 */

let listSymbol: symbol | null | undefined;

/** Deno's internal key of a Headers object's list of lines; `null` when this runtime has none. */
function headerListSymbol(): symbol | null {
  if (listSymbol === undefined) {
    const probe = new Headers();
    listSymbol = Object.getOwnPropertySymbols(probe).find((s) => s.description === "header list") ?? null;
  }
  return listSymbol;
}

function noop() {}

/**
 * The values of each header as separate lines, keyed by lower-case name; `null` when the lines cannot be
 * read (the caller then keeps the joined values).
 */
export function headerLines(headers: Headers): Map<string, string[]> | null {
  const symbol = headerListSymbol();
  if (symbol === null) return null;
  // A request Deno.serve made fetches its list on first iteration
  headers.forEach(noop);
  const list = (headers as unknown as Record<symbol, unknown>)[symbol];
  if (!Array.isArray(list)) return null;
  const lines = new Map<string, string[]>();
  for (const [name, value] of list as [string, string][]) {
    const key = name.toLowerCase();
    const values = lines.get(key);
    if (values) values.push(value);
    else lines.set(key, [value]);
  }
  return lines;
}

/**
 * Walks `current` like `forEach`, but a header whose joined value is still exactly the lines `received`
 * holds comes out once per line; a header set or changed since (one value in Go too) comes out as is.
 * @param received the Headers the lines came in on (the client's request, the upstream's response)
 */
export function forEachHeaderLine(
  current: Headers,
  received: Headers,
  callback: (name: string, value: string) => void,
): void {
  let lines: Map<string, string[]> | null | undefined;
  current.forEach((value, name) => {
    // only a joined value can hide several lines
    if (value.includes(", ")) {
      lines ??= headerLines(received);
      const values = lines?.get(name);
      if (values && values.length > 1 && values.join(", ") === value) {
        for (const line of values) callback(name, line);
        return;
      }
    }
    callback(name, value);
  });
}
