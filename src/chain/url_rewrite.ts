/**
 * Tyk's URL rewrite (`extended_paths.url_rewrites`, Tyk's `gateway/mw_url_rewrite.go`): the first entry whose
 * path and method match the request runs its `match_pattern` over the request URL (listen path and query
 * included); when it matches, `rewrite_to` (or the `rewrite_to` of a trigger that fired) becomes the URL, its
 * `$1`… filled from the pattern's groups, `$tyk_context.trigger-…` from what the triggers matched and
 * `$tyk_meta.…` from the session. The proxy then strips a leading listen path from the new URL, and only a
 * leading one. Entries are compiled once per load; a pattern Go accepts but JavaScript cannot is reported
 * then, with its field, and left out.
 */
import type { ApiDefinition } from "../config/api_definition.ts";
import { canonicalHeaderKey } from "../jsvm/go/http.ts";
import { parseGoUrl, parseQuery, queryEscape } from "../jsvm/go/url.ts";
import type { Logger } from "../log.ts";
import { currentUrl, readBody, type RequestCtx, type Step } from "./context.ts";
import { matchEndpoint } from "./endpoint_match.ts";
import { compilePattern, rulesForVersion } from "./version_check.ts";

type RewriteEntry =
  ApiDefinition["version_data"]["versions"][string]["extended_paths"]["url_rewrites"][number];
type TriggerOptions = RewriteEntry["triggers"][number]["options"];

/** Path-matching options from `http_server_options`, and where load problems go. */
export interface UrlRewriteOptions {
  prefixMatching?: boolean;
  suffixMatching?: boolean;
  log: Logger;
}

/** A trigger option's regexp; with `reverse` it fires when the regexp does not match. */
interface ValueMatch {
  name: string;
  regex: RegExp;
  reverse: boolean;
}

interface Trigger {
  any: boolean;
  headers: ValueMatch[];
  query: ValueMatch[];
  pathParts: ValueMatch[];
  sessionMeta: ValueMatch[];
  context: ValueMatch[];
  payload: ValueMatch | null;
  rewriteTo: string;
}

interface RewriteRule {
  method: string;
  pattern: RegExp;
  match: RegExp;
  rewriteTo: string;
  triggers: Trigger[];
}

const DOLLAR_GROUP = /\$\d+/g;
const CONTEXT_VAR = /\$tyk_context\.([A-Za-z0-9_\-.]+)/g;
const META_VAR = /\$tyk_meta\.([A-Za-z0-9_\-.]+)/g;

/** Go's RE2 syntax as a JavaScript RegExp: a leading `(?i)` becomes the `i` flag. */
function goRegExp(source: string): RegExp {
  return source.startsWith("(?i)") ? new RegExp(source.slice(4), "i") : new RegExp(source);
}

/** Go's `FindStringSubmatch` with Tyk's `reverse`: whether it fired, and the match (none when reversed). */
function check(match: ValueMatch, value: string): [fired: boolean, groups: string[]] {
  const found = match.regex.exec(value);
  if (match.reverse) return [found === null, []];
  return found === null ? [false, []] : [true, found.map((group) => group ?? "")];
}

/** Tyk's context keys for a match: `trigger-<n>-<name>[-<i>…]` = the whole match, then `-<g>` per group. */
function record(data: Map<string, string>, groups: string[], key: string): void {
  if (groups.length === 0) return;
  data.set(key, groups[0]);
  for (let g = 1; g < groups.length; g++) data.set(`${key}-${g - 1}`, groups[g]);
}

/**
 * One option kind of a trigger: counts the matches and records them; `any` fires on the first, otherwise
 * it fires when every configured name matched at least once (Tyk counts matches, not names).
 */
function matchValues(
  matches: ValueMatch[],
  values: (name: string) => string[],
  keyOf: (name: string, index: number, count: number) => string,
  data: Map<string, string>,
  any: boolean,
): boolean {
  let count = 0;
  for (const match of matches) {
    const list = values(match.name);
    for (let i = 0; i < list.length; i++) {
      const [fired, groups] = check(match, list[i]);
      if (!fired) continue;
      record(data, groups, keyOf(match.name, i, count));
      count++;
    }
  }
  return count > 0 && (any || matches.length <= count);
}

async function runTriggers(rule: RewriteRule, ctx: RequestCtx, data: Map<string, string>): Promise<string> {
  for (let n = 0; n < rule.triggers.length; n++) {
    const trigger = rule.triggers[n];
    const base = `trigger-${n}`;
    const kinds: (() => boolean | Promise<boolean>)[] = [];
    if (trigger.headers.length > 0) {
      kinds.push(() =>
        matchValues(
          trigger.headers,
          (name) => {
            const value = ctx.headers.get(name);
            return value === null ? [] : [value];
          },
          (name, i) => `${base}-${canonicalHeaderKey(name)}-${i}`,
          data,
          trigger.any,
        )
      );
    }
    if (trigger.query.length > 0) {
      const query = parseQuery(ctx.query);
      kinds.push(() =>
        matchValues(
          trigger.query,
          (name) => query.get(name) ?? [],
          (name, i) => `${base}-${name}-${i}`,
          data,
          trigger.any,
        )
      );
    }
    if (trigger.pathParts.length > 0) {
      const parts = ctx.path.split("/");
      kinds.push(() =>
        matchValues(
          trigger.pathParts,
          () => parts,
          (name, _i, count) => `${base}-${name}-${count}`,
          data,
          trigger.any,
        )
      );
    }
    if (trigger.sessionMeta.length > 0 && ctx.session !== null) {
      const meta = ctx.session.meta_data ?? {};
      kinds.push(() =>
        matchValues(
          trigger.sessionMeta,
          (name) => {
            const value = meta[name];
            return typeof value === "string" ? [value] : [];
          },
          (name) => `${base}-${name}`,
          data,
          trigger.any,
        )
      );
    }
    if (trigger.context.length > 0) {
      kinds.push(() =>
        matchValues(
          trigger.context,
          (name) => {
            const value = data.get(name);
            return value === undefined ? [] : [value];
          },
          (name) => `${base}-${name}`,
          data,
          trigger.any,
        )
      );
    }
    if (trigger.payload !== null) {
      const payload = trigger.payload;
      kinds.push(async () => {
        const body = new TextDecoder().decode(await readBody(ctx));
        const [fired, groups] = check(payload, body);
        if (fired) record(data, groups, `${base}-payload`);
        return fired;
      });
    }
    let fired = 0;
    for (const kind of kinds) {
      if (!(await kind())) continue;
      fired++;
      if (trigger.any) return trigger.rewriteTo;
    }
    if (!trigger.any && fired === kinds.length) return trigger.rewriteTo;
  }
  return rule.rewriteTo;
}

/** Tyk's `valToStr` of a meta value, query-escaped unless it is a URL. */
function metaText(value: unknown): string {
  let text = "";
  if (typeof value === "string") text = value;
  else if (typeof value === "number") text = String(value);
  else if (Array.isArray(value)) text = value.map((item) => queryEscape(String(item))).join(",");
  return text.startsWith("http") ? text : queryEscape(text);
}

/** The rewritten URL of a request, or `null` when the entry's pattern does not match it. */
async function rewrite(rule: RewriteRule, ctx: RequestCtx): Promise<string | null> {
  const data = new Map<string, string>();
  const rewriteTo = rule.triggers.length > 0 ? await runTriggers(rule, ctx, data) : rule.rewriteTo;
  const url = currentUrl(ctx);
  let found = rule.match.exec(url);
  if (found === null && url.includes("%")) {
    try {
      found = rule.match.exec(decodeURIComponent(url));
    } catch {
      return null; // Tyk gives up on a URL it cannot decode
    }
  }
  if (found === null) return null;
  const groups = found;
  return rewriteTo
    .replace(DOLLAR_GROUP, (token) => groups[Number(token.slice(1))] ?? "")
    .replace(CONTEXT_VAR, (_, name: string) => {
      const value = data.get(name);
      return value === undefined ? "" : metaText(value);
    })
    .replace(META_VAR, (_, name: string) => metaText(ctx.session?.meta_data?.[name]));
}

function compileMatches(
  matches: Record<string, { match_rx: string; reverse: boolean }>,
  field: string,
  invalid: (field: string, err: unknown) => void,
): ValueMatch[] {
  const out: ValueMatch[] = [];
  for (const [name, option] of Object.entries(matches)) {
    try {
      out.push({ name, regex: goRegExp(option.match_rx), reverse: option.reverse });
    } catch (err) {
      invalid(`${field}.${name}.match_rx`, err);
    }
  }
  return out;
}

function compileTriggers(entry: RewriteEntry, field: string, invalid: (field: string, err: unknown) => void) {
  return entry.triggers.map((trigger, t): Trigger => {
    const at = `${field}.triggers[${t}].options`;
    const options: TriggerOptions = trigger.options;
    let payload: ValueMatch | null = null;
    if (options.payload_matches.match_rx !== "") {
      try {
        payload = {
          name: "payload",
          regex: goRegExp(options.payload_matches.match_rx),
          reverse: options.payload_matches.reverse,
        };
      } catch (err) {
        invalid(`${at}.payload_matches.match_rx`, err);
      }
    }
    return {
      any: trigger.on === "any",
      headers: compileMatches(options.header_matches, `${at}.header_matches`, invalid),
      query: compileMatches(options.query_val_matches, `${at}.query_val_matches`, invalid),
      pathParts: compileMatches(options.path_part_matches, `${at}.path_part_matches`, invalid),
      sessionMeta: compileMatches(options.session_meta_matches, `${at}.session_meta_matches`, invalid),
      context: compileMatches(options.request_context_matches, `${at}.request_context_matches`, invalid),
      payload,
      rewriteTo: trigger.rewrite_to,
    };
  });
}

/**
 * Builds an API's URL rewrite step; `null` when no version has an enabled entry.
 * @example
 * const step = createUrlRewrite(def, { log });
 */
export function createUrlRewrite(def: ApiDefinition, options: UrlRewriteOptions): Step | null {
  const { log } = options;
  const rules = new Map<string, RewriteRule[]>();
  let any = false;
  for (const [version, info] of Object.entries(def.version_data.versions)) {
    const list: RewriteRule[] = [];
    info.extended_paths.url_rewrites.forEach((entry, i) => {
      const field = `version_data.versions.${version}.extended_paths.url_rewrites[${i}]`;
      // Tyk compares the entry's method with the request's as they are: an empty method matches nothing
      if (entry.disabled || entry.method === "") return;
      const invalid = (at: string, err: unknown) =>
        log.error(
          `Cannot use ${at} of API "${def.api_id}": ${(err as Error).message}; the entry is left out`,
          {
            api_id: def.api_id,
          },
        );
      let match: RegExp;
      try {
        match = goRegExp(entry.match_pattern);
      } catch (err) {
        return invalid(`${field}.match_pattern`, err);
      }
      for (const target of [entry.rewrite_to, ...entry.triggers.map((t) => t.rewrite_to)]) {
        if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) {
          log.warn(
            `${field}: rewrite_to "${target}" names a scheme and host; tyk:// loops and other hosts are not supported, ` +
              `only its path and query are sent to the API's target`,
            { api_id: def.api_id },
          );
        }
      }
      list.push({
        method: entry.method.toUpperCase(),
        pattern: compilePattern(entry.path, options),
        match,
        rewriteTo: entry.rewrite_to,
        triggers: compileTriggers(entry, field, invalid),
      });
    });
    rules.set(version, list);
    any ||= list.length > 0;
  }
  if (!any) return null;
  const rulesOf = rulesForVersion(def, rules);
  return async function urlRewrite(ctx) {
    const list = rulesOf(ctx);
    if (!list?.length) return undefined;
    const rule = matchEndpoint(list, ctx);
    if (rule === undefined) return undefined;
    const rewritten = await rewrite(rule, ctx);
    if (rewritten === null) return undefined;
    const url = parseGoUrl(rewritten);
    if (url === null) {
      log.error("URL Rewrite failed, could not parse the new URL; the request keeps its own", {
        api_id: ctx.apiId,
        url: rewritten,
      });
      return undefined;
    }
    ctx.path = url.path;
    ctx.query = url.query;
    return undefined;
  };
}
