/**
 * The instrumenter behind the code guard (see code_guard.ts): parses a script with acorn and inserts a call
 * of the tick function wherever running code can come back for more:
 * - at the start of every function body (declarations, expressions, methods, getters and setters,
 *   generators, async functions, class constructors), after its directive prologue: `{ tick(); … }`;
 * - around the body of every concise arrow function: `x => (tick(), x + 1)`;
 * - around the body of every loop (`for`, `for…in`, `for…of`, `for await`, `while`, `do…while`), so each
 *   iteration ticks: `while (c) {tick(); body}`;
 * - at the start of every class static block.
 * Nothing is inserted across a line break, so line numbers stay as written (columns move only after an
 * insertion on the same line). The same pass refuses `import()` and names that start with `__tyk_`, and
 * lists the script's top-level `let`/`const`/`class` names for the state reset.
 *
 * `createInstrumenter` runs from its own source text inside a realm of its own, so it must not refer to
 * anything outside its body; it answers JSON text, so no object of that realm reaches the caller.
 */

// deno-lint-ignore-file no-explicit-any

/** What `instrument()` answers, as JSON text. */
export type InstrumentAnswer =
  | { code: string; lexical: string[] }
  | { refused: "syntax" | "import" | "reserved"; message: string; line: number; column: number };

/**
 * Builds `instrument(code)` on `acorn` (the module object); `tick` is the name of the global function the
 * inserted calls call, `reserved` the prefix plugin names may not start with.
 */
export function createInstrumenter(acorn: any, tick: string, reserved: string): (code: string) => string {
  const LOOPS: Record<string, true> = {
    ForStatement: true,
    ForInStatement: true,
    ForOfStatement: true,
    WhileStatement: true,
    DoWhileStatement: true,
  };
  const FUNCTIONS: Record<string, true> = {
    FunctionDeclaration: true,
    FunctionExpression: true,
    ArrowFunctionExpression: true,
  };
  const CALL = tick + "();";

  function refuse(kind: string, message: string, line: number, column: number): string {
    return JSON.stringify({ refused: kind, message, line, column });
  }

  /** Every identifier a binding pattern declares. */
  function patternNames(pattern: any, out: string[]): void {
    if (pattern === null) return;
    switch (pattern.type) {
      case "Identifier":
        out.push(pattern.name);
        return;
      case "ObjectPattern":
        for (const p of pattern.properties) {
          patternNames(p.type === "RestElement" ? p.argument : p.value, out);
        }
        return;
      case "ArrayPattern":
        for (const e of pattern.elements) patternNames(e, out);
        return;
      case "AssignmentPattern":
        patternNames(pattern.left, out);
        return;
      case "RestElement":
        patternNames(pattern.argument, out);
        return;
    }
  }

  function lexicalNames(program: any): string[] {
    const names: string[] = [];
    for (const statement of program.body) {
      if (statement.type === "ClassDeclaration") names.push(statement.id.name);
      else if (statement.type === "VariableDeclaration" && statement.kind !== "var") {
        for (const d of statement.declarations) patternNames(d.id, names);
      }
    }
    return names;
  }

  return function instrument(code: string): string {
    let program: any;
    try {
      program = acorn.parse(code, { ecmaVersion: "latest", sourceType: "script", locations: true });
    } catch (error: any) {
      const loc = error && error.loc;
      const message = String(error && error.message).replace(/ \(\d+:\d+\)$/, "");
      return refuse("syntax", message, loc ? loc.line : 1, loc ? loc.column + 1 : 1);
    }

    // Insertions: position, text, and an order among those at the same position: closings (0) before
    // openings (1); openings outermost first, closings innermost first.
    const at: number[] = [];
    const texts: string[] = [];
    const kinds: number[] = [];
    const depths: number[] = [];
    const add = (position: number, text: string, opening: boolean, depth: number) => {
      at.push(position);
      texts.push(text);
      kinds.push(opening ? 1 : 0);
      depths.push(opening ? depth : -depth);
    };

    /** The tick at the start of a list of statements, after any directive prologue. */
    const tickStatements = (statements: any[], closeAt: number, depth: number) => {
      let first = 0;
      while (
        first < statements.length && statements[first].type === "ExpressionStatement" &&
        typeof statements[first].directive === "string"
      ) first++;
      // after a directive written without ";", a ";" keeps the tick from joining it
      const text = first > 0 ? ";" + CALL : CALL;
      add(first < statements.length ? statements[first].start : closeAt, text, true, depth);
    };

    const stack: any[] = [{ node: program, depth: 0, member: false }];
    while (stack.length > 0) {
      const { node, depth, member } = stack.pop();
      const type = node.type;
      if (type === "Identifier" && !member && node.name.startsWith(reserved)) {
        return refuse(
          "reserved",
          `names starting with "${reserved}" are reserved by the sandbox`,
          node.loc.start.line,
          node.loc.start.column + 1,
        );
      }
      if (type === "ImportExpression" || (type === "MetaProperty" && node.meta.name === "import")) {
        return refuse(
          "import",
          "dynamic import() is not allowed in a sandbox",
          node.loc.start.line,
          node.loc.start.column + 1,
        );
      }
      if (LOOPS[type] === true) {
        add(node.body.start, "{" + CALL, true, depth);
        add(node.body.end, "}", false, depth);
      } else if (FUNCTIONS[type] === true) {
        const body = node.body;
        if (body.type === "BlockStatement") tickStatements(body.body, body.end - 1, depth);
        else {
          add(body.start, "(" + tick + "(), ", true, depth);
          add(body.end, ")", false, depth);
        }
      } else if (type === "StaticBlock" && node.body.length > 0) {
        tickStatements(node.body, node.end - 1, depth);
      }
      for (const key in node) {
        const value = node[key];
        if (value === null || typeof value !== "object" || key === "loc") continue;
        const isProperty = type === "MemberExpression" && key === "property" && !node.computed;
        if (Array.isArray(value)) {
          for (let i = value.length - 1; i >= 0; i--) {
            if (value[i] !== null && typeof value[i].type === "string") {
              stack.push({ node: value[i], depth: depth + 1, member: false });
            }
          }
        } else if (typeof value.type === "string") {
          stack.push({ node: value, depth: depth + 1, member: isProperty });
        }
      }
    }

    const order: number[] = [];
    for (let i = 0; i < at.length; i++) order.push(i);
    order.sort((a, b) => at[a] - at[b] || kinds[a] - kinds[b] || depths[a] - depths[b]);
    let out = "";
    let copied = 0;
    for (const i of order) {
      out += code.slice(copied, at[i]) + texts[i];
      copied = at[i];
    }
    out += code.slice(copied);
    return JSON.stringify({ code: out, lexical: lexicalNames(program) });
  };
}
