/**
 * Tyk's endpoint matching (`gateway/model_urlspec.go`): the first rule whose regexp matches one of the
 * request's path forms, and whose method matches, decides.
 */
import type { RequestCtx } from "./context.ts";

/** A mock answer of a legacy `method_actions` entry (`action: "reply"`), built at load. */
export interface EndpointReply {
  status: number;
  body: Uint8Array<ArrayBuffer>;
  headers: [string, string][];
}

/** One compiled endpoint entry of a version's lists. */
export interface EndpointRule {
  kind: "ignored" | "white_list" | "black_list";
  /** Upper-case method; empty matches any. */
  method: string;
  pattern: RegExp;
  /** Set when the entry answers this method itself. */
  reply?: EndpointReply;
}

/** The path forms Tyk tries, most specific first: without listen path and version, without listen path, full. */
function pathForms(ctx: RequestCtx): string[] {
  const full = ctx.path;
  const rest = full.startsWith(ctx.listenPath) ? full.slice(ctx.listenPath.length) : full;
  const withoutListen = rest.startsWith("/") ? rest : `/${rest}`;
  const forms = [withoutListen, full];
  if (ctx.versionName) {
    const prefix = `/${ctx.versionName}`;
    if (withoutListen === prefix || withoutListen.startsWith(`${prefix}/`)) {
      forms.unshift(withoutListen.slice(prefix.length) || "/");
    }
  }
  return forms;
}

/** Returns the first rule that matches the request, or `undefined`; a rule's empty method matches any. */
export function matchEndpoint<R extends { method: string; pattern: RegExp }>(
  rules: R[],
  ctx: RequestCtx,
): R | undefined {
  const forms = pathForms(ctx);
  for (const rule of rules) {
    if (rule.method && rule.method !== ctx.method) continue;
    for (const form of forms) if (rule.pattern.test(form)) return rule;
  }
  return undefined;
}
