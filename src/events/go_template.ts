/**
 * The part of Go's `html/template` that webhook templates use: `{{.Field.Sub}}` (HTML-escaped as in text),
 * `{{if …}}`, `{{else if …}}`, `{{else}}`, `{{end}}` with a field or `eq A B` as the condition, string and
 * number literals, and the `{{-`/`-}}` trim markers. A field the data does not have is an error at execution,
 * as it is for Go structs. Compiled once, when the handler is made.
 */

/** A template that cannot be parsed or executed; the message says where. */
export class TemplateError extends Error {
  override name = "TemplateError";
}

type Arg = { kind: "field"; path: string[] } | { kind: "literal"; value: string | number };
type Condition = { op: "truthy"; arg: Arg } | { op: "eq"; left: Arg; right: Arg[] };
type Node =
  | { kind: "text"; text: string }
  | { kind: "print"; arg: Arg }
  | { kind: "if"; branches: { condition: Condition; body: Node[] }[]; otherwise: Node[] };

const ACTION = /\{\{(-\s)?\s*(.*?)\s*(\s-)?\}\}/gs;
const HTML_ESCAPES: Record<string, string> = {
  "\0": "\uFFFD",
  '"': "&#34;",
  "&": "&amp;",
  "'": "&#39;",
  "+": "&#43;",
  "<": "&lt;",
  ">": "&gt;",
};

/** Go's `html/template` escaping of a value printed in text. */
export function htmlEscape(text: string): string {
  return text.replace(/[\0"&'+<>]/g, (c) => HTML_ESCAPES[c]);
}

function parseArg(token: string): Arg {
  if (token.startsWith('"')) {
    try {
      return { kind: "literal", value: JSON.parse(token) };
    } catch {
      throw new TemplateError(`bad string literal ${token}`);
    }
  }
  if (/^-?\d+(\.\d+)?$/.test(token)) return { kind: "literal", value: Number(token) };
  if (token === ".") return { kind: "field", path: [] };
  if (/^(\.[A-Za-z_]\w*)+$/.test(token)) return { kind: "field", path: token.slice(1).split(".") };
  throw new TemplateError(`unsupported argument ${JSON.stringify(token)}`);
}

function tokens(expression: string): string[] {
  return expression.match(/"(?:[^"\\]|\\.)*"|\S+/g) ?? [];
}

function parseCondition(expression: string): Condition {
  const parts = tokens(expression);
  if (parts[0] === "eq") {
    if (parts.length < 3) throw new TemplateError(`eq needs two arguments: ${expression}`);
    return { op: "eq", left: parseArg(parts[1]), right: parts.slice(2).map(parseArg) };
  }
  if (parts.length !== 1) throw new TemplateError(`unsupported condition ${JSON.stringify(expression)}`);
  return { op: "truthy", arg: parseArg(parts[0]) };
}

/**
 * Parses a template.
 * @throws {TemplateError} for syntax it does not support or unbalanced `if`/`end`
 */
export function parseTemplate(source: string): Node[] {
  const root: Node[] = [];
  /** Open `if`s, each with the list it was opened in. */
  const stack: { node: Extract<Node, { kind: "if" }>; parent: Node[] }[] = [];
  let current = root;
  let last = 0;
  let trimNext = false;
  for (const match of source.matchAll(ACTION)) {
    let text = source.slice(last, match.index);
    if (trimNext) text = text.replace(/^\s+/, "");
    if (match[1]) text = text.replace(/\s+$/, "");
    if (text) current.push({ kind: "text", text });
    trimNext = match[3] !== undefined;
    last = match.index + match[0].length;
    const action = match[2];
    const word = action.split(/\s+/)[0];
    if (word === "if") {
      const node: Extract<Node, { kind: "if" }> = { kind: "if", branches: [], otherwise: [] };
      const body: Node[] = [];
      node.branches.push({ condition: parseCondition(action.slice(2)), body });
      current.push(node);
      stack.push({ node, parent: current });
      current = body;
    } else if (word === "else") {
      const open = stack.at(-1);
      if (!open) throw new TemplateError("{{else}} without {{if}}");
      const rest = action.slice(4).trim();
      if (rest.startsWith("if ")) {
        const body: Node[] = [];
        open.node.branches.push({ condition: parseCondition(rest.slice(3)), body });
        current = body;
      } else {
        current = open.node.otherwise;
      }
    } else if (word === "end") {
      const open = stack.pop();
      if (!open) throw new TemplateError("{{end}} without {{if}}");
      current = open.parent;
    } else if (action.startsWith("/*")) {
      // a comment
    } else {
      current.push({ kind: "print", arg: parseArg(action) });
    }
  }
  if (stack.length > 0) throw new TemplateError("unexpected end of template: {{if}} without {{end}}");
  let text = source.slice(last);
  if (trimNext) text = text.replace(/^\s+/, "");
  if (text) current.push({ kind: "text", text });
  return root;
}

function resolve(arg: Arg, data: unknown): unknown {
  if (arg.kind === "literal") return arg.value;
  let value = data;
  for (const name of arg.path) {
    if (value === null || typeof value !== "object" || !(name in value)) {
      throw new TemplateError(`can't evaluate field ${name}`);
    }
    value = (value as Record<string, unknown>)[name];
  }
  return value;
}

function truthy(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0;
  if (value !== null && typeof value === "object") return Object.keys(value).length > 0;
  return !!value;
}

function test(condition: Condition, data: unknown): boolean {
  if (condition.op === "truthy") return truthy(resolve(condition.arg, data));
  const left = resolve(condition.left, data);
  return condition.right.some((arg) => resolve(arg, data) === left);
}

function show(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/**
 * Executes a parsed template on `data`.
 * @throws {TemplateError} when the data lacks a field the template uses
 */
export function executeTemplate(nodes: Node[], data: unknown): string {
  let out = "";
  for (const node of nodes) {
    if (node.kind === "text") out += node.text;
    else if (node.kind === "print") out += htmlEscape(show(resolve(node.arg, data)));
    else {
      const branch = node.branches.find((b) => test(b.condition, data));
      out += executeTemplate(branch ? branch.body : node.otherwise, data);
    }
  }
  return out;
}
