/**
 * Plugin code trying to get out of its sandbox: every attempt must fail, and the sandbox must keep working.
 */

import assert from "node:assert/strict";
import { mw, processRequest, rejection, withPool } from "../../../tests/support/sandbox_pool.ts";
import type { ToHost } from "../protocol.ts";
import { SandboxThread } from "./_sandbox_thread.ts";
import { startUpstream } from "../../../tests/support/upstream.ts";
import { noThreadSpins } from "../../../tests/support/thread_cpu.ts";

/** A plugin exposing `probe.run()`, which evaluates `body` and returns what it returns (or the error name and message). */
function probe(body: string) {
  return mw(
    "/probe.js",
    `var probe = { run: function () {\n  try { ${body} } catch (e) { return "blocked: " + e; }\n} };`,
    [
      "probe",
    ],
  );
}

async function runProbe(body: string): Promise<string> {
  let out = "";
  await withPool({ sources: [probe(body)] }, async (pool) => {
    await pool.load(); // a busy machine's first Worker may take long to start: that is not the call's time
    out = await pool.call("probe", "run", []);
  });
  return out;
}

/**
 * Runs `code` as the main module of a sandbox thread, started as the sandbox is and after it gave up its
 * permissions as the sandbox does (unless `drop` is false: then with what its launcher let it have), and
 * answers what it posts. The Deno APIs the sandbox removes before plugin code runs are still there for this
 * module, so what it reports is the thread's permissions themselves.
 */
async function inSandboxWorker(code: string, drop = true): Promise<Record<string, string>> {
  const dropModule = new URL("../sandbox/drop_permissions.ts", import.meta.url).href;
  const module = `import { workerData } from "node:worker_threads";
    import { dropPermissions } from ${JSON.stringify(dropModule)};
    const postMessage = (out) => workerData.port.postMessage(out);
    ${drop ? "dropPermissions();" : ""}
    ${code}`;
  const thread = new SandboxThread(64, new URL(`data:text/javascript,${encodeURIComponent(module)}`));
  try {
    return await new Promise((resolve, reject) => {
      thread.start({} as never, {
        message: (out: ToHost) => resolve(out as unknown as Record<string, string>),
        messageError: () => reject(new Error("unreadable message")),
        error: (message) => reject(new Error(message)),
        exit: (info) => reject(new Error(`the sandbox thread ended: ${JSON.stringify(info)}`)),
      });
    });
  } finally {
    thread.stop();
  }
}

/**
 * Sandbox-thread code that tries each permission for real (the sandbox's own code, a secret in `dir`, a write,
 * env, run, sys, a connection to `port`) and posts what each attempt gave: "ALLOWED" or the error's name.
 */
function tryEveryPermission(own: URL, dir: string, port: number, extra = ""): string {
  return `
      const out = {};
      const attempt = (name, fn) => { try { fn(); out[name] = "ALLOWED"; } catch (e) { out[name] = e.name; } };
      attempt("own code", () => Deno.readTextFileSync(${JSON.stringify(own.pathname)}));
      attempt("read", () => Deno.readTextFileSync(${JSON.stringify(`${dir}/secret.txt`)}));
      attempt("write", () => Deno.writeTextFileSync(${JSON.stringify(`${dir}/written.txt`)}, "x"));
      attempt("env", () => Deno.env.get("HOME"));
      ${extra}
      attempt("run", () => new Deno.Command("true").outputSync());
      attempt("sys", () => Deno.hostname());
      out.net = await Deno.connect({ hostname: "127.0.0.1", port: ${port} })
        .then((conn) => (conn.close(), "ALLOWED"), (e) => e.name);
      postMessage(out);
    `;
}

Deno.test("sandbox Workers start with every permission denied, not only with Deno's APIs removed", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/secret.txt`, "s3cr3t");
    const server = await startUpstream(); // counts the requests it gets
    const own = new URL("../sandbox/worker.ts", import.meta.url);
    const out = await inSandboxWorker(tryEveryPermission(own, dir, server.port));
    await server.stop();
    const denied = ["own code", "read", "write", "env", "run", "sys", "net"].map((
      name,
    ) => [name, "NotCapable"]);
    assert.deepEqual(out, Object.fromEntries(denied));
    assert.equal(server.count(), 0);
    await assert.rejects(Deno.stat(`${dir}/written.txt`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sandbox threads, before they give up their permissions, may read only the sandbox's code", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/secret.txt`, "s3cr3t");
    const server = await startUpstream(); // counts the requests it gets
    const own = new URL("../sandbox/worker.ts", import.meta.url);
    const out = await inSandboxWorker(
      tryEveryPermission(own, dir, server.port, 'out["process.env"] = JSON.stringify(process.env);'),
      false,
    );
    await server.stop();
    const denied = ["read", "write", "env", "run", "sys", "net"].map((
      name,
    ) => [name, "NotCapable"]);
    assert.deepEqual(out, { "own code": "ALLOWED", "process.env": "{}", ...Object.fromEntries(denied) });
    assert.equal(server.count(), 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sandbox: Deno file and env APIs are not there", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const secret = `${dir}/secret.txt`;
    await Deno.writeTextFile(secret, "s3cr3t");
    assert.equal(
      await runProbe(`return Deno.readTextFileSync(${JSON.stringify(secret)});`),
      "blocked: ReferenceError: Deno is not defined",
    );
    assert.equal(
      await runProbe(`return Deno.env.get("HOME");`),
      "blocked: ReferenceError: Deno is not defined",
    );
    assert.equal(
      await runProbe(`return process.env.HOME;`),
      "blocked: ReferenceError: process is not defined",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sandbox: no network API reaches a local server", async () => {
  const server = await startUpstream(); // counts the requests it gets
  try {
    const url = JSON.stringify(`${server.url}/steal`);
    assert.equal(
      await runProbe(`fetch(${url}); return "sent";`),
      "blocked: ReferenceError: fetch is not defined",
    );
    assert.equal(
      await runProbe(`new WebSocket(${url}); return "sent";`),
      "blocked: ReferenceError: WebSocket is not defined",
    );
    assert.equal(
      await runProbe(`new EventSource(${url}); return "sent";`),
      "blocked: ReferenceError: EventSource is not defined",
    );
    assert.equal(
      await runProbe(`importScripts(${url}); return "sent";`),
      "blocked: ReferenceError: importScripts is not defined",
    );
    assert.equal(server.count(), 0);
  } finally {
    await server.stop();
  }
});

Deno.test("sandbox: import() of a URL, file, npm: or data: module is refused at load", async () => {
  const server = await startUpstream(); // counts the requests it gets
  const dir = await Deno.makeTempDir();
  try {
    const conf = `${dir}/tyk.conf`;
    await Deno.writeTextFile(conf, JSON.stringify({ secret: "gateway-secret" }));
    const targets = [
      `${server.url}/evil.js`,
      `file://${conf}`,
      "npm:underscore@1.13.8",
      "data:text/javascript,export default globalThis",
    ];
    const sources = targets.map((target, i) =>
      mw(
        `/import_${i}.js`,
        `var x${i} = 1;\nimport(${JSON.stringify(target)}, { with: { type: "json" } }).then(log);`,
        [
          `x${i}`,
        ],
      )
    );
    const good = mw("/good.js", 'var good = { run: function () { return "still serving"; } };', ["good"]);
    await withPool({ sources: [...sources, good] }, async (pool, captured) => {
      const { issues } = await pool.load();
      assert.deepEqual(
        issues.map((i) => [i.file, i.line, i.message]),
        targets.map((_, i) => [`/import_${i}.js`, 2, "dynamic import() is not allowed in a sandbox"]),
      );
      assert.equal(await pool.call("good", "run", []), "still serving");
      assert.ok(!captured.lines.some((l) => l.msg.includes("gateway-secret")));
    });
    assert.equal(server.count(), 0);
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sandbox: eval, Function and the other function constructors refuse import()", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const conf = `${dir}/tyk.conf`;
    await Deno.writeTextFile(conf, JSON.stringify({ secret: "gateway-secret" }));
    const load = JSON.stringify(`import("file://${conf}", { with: { type: "json" } })`);
    const attempts = [
      `eval(${load})`,
      `(0, eval)(${load})`,
      `new Function("return " + ${load})()`,
      `Function("return " + ${load})()`,
      `(function () {}).constructor("return " + ${load})()`,
      `(async function () {}).constructor("return " + ${load})()`,
      `(function* () {}).constructor("return " + ${load})().next()`,
      `(async function* () {}).constructor("return " + ${load})().next()`,
      `Reflect.construct(Function, ["return " + ${load}])()`,
      `Function.prototype.constructor.call(null, "return " + ${load})()`,
      `eval("im" + "port(" + ${JSON.stringify(JSON.stringify(`file://${conf}`))} + ")")`,
      `_.template("<% " + ${load} + " %>")({})`,
    ];
    for (const attempt of attempts) {
      const out = await runProbe(`var p = ${attempt}; return "ran";`);
      assert.match(out, /^blocked: SyntaxError: dynamic import\(\) is not allowed in a sandbox/, attempt);
    }
    // A source whose toString changes between the check and the compilation gets no second reading.
    const sneaky =
      `var n = 0; var src = { toString: function () { return n++ === 0 ? "return 1" : "return " + ${load}; } };
      var f = new Function(src); return typeof f();`;
    assert.equal(await runProbe(sneaky), "number");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sandbox: eval and Function still work for code without import", async () => {
  assert.equal(await runProbe(`return eval("1 + 2") + new Function("a", "b", "return a * b")(3, 4);`), "15");
  assert.equal(await runProbe(`return _.template("hello <%= name %>")({ name: "tyk" });`), "hello tyk");
  // eval runs in the global scope (as an indirect eval): it sees globals, not the caller's locals.
  assert.equal(await runProbe(`o = {}; o["imp" + "ort"] = 1; return o.import + eval("o.import");`), "2");
  assert.equal(await runProbe(`var local = 1; return eval("typeof local");`), "undefined");
});

Deno.test("sandbox: no nested Worker, channel, timer, cache or other way out", async () => {
  const names = [
    "Worker",
    "SharedWorker",
    "BroadcastChannel",
    "MessageChannel",
    "postMessage",
    "close",
    "onmessage",
    "setTimeout",
    "setInterval",
    "setImmediate",
    "caches",
    "navigator",
    "performance",
    "WebAssembly",
    "SharedArrayBuffer",
    "FinalizationRegistry",
    "Deno",
    "process",
    "Buffer",
    "require",
  ];
  const out = await runProbe(
    `return ${JSON.stringify(names)}.filter(function (n) { return typeof globalThis[n] !== "undefined"; })
    .concat(typeof Atomics.waitAsync !== "undefined" ? ["Atomics.waitAsync"] : [])
    .concat(typeof URL.createObjectURL !== "undefined" ? ["URL.createObjectURL"] : []).join(",") || "none";`,
  );
  assert.equal(out, "none");
  assert.equal(
    await runProbe(`new Worker("data:text/javascript,1"); return "started";`),
    "blocked: ReferenceError: Worker is not defined",
  );
});

Deno.test("sandbox: tampering with built-ins in one call does not break the next call", async () => {
  const code = `var myMw = new TykJS.TykMiddleware.NewMiddleware({});
myMw.NewProcessRequest(function (request, session, spec) {
  request.SetHeaders["X-Native"] = String(JSON.parse("[1]").length);
  return myMw.ReturnData(request, {});
});
var evil = { run: function () {
  JSON.parse = function () { return null; };
  JSON.stringify = function () { return "forged"; };
  Object.prototype.toJSON = function () { return "hijacked"; };
  Array.prototype.push = null;
  String.prototype.toString = function () { return "x"; };
  String.prototype.split = null;
  Function.prototype.call = null;
  Function.prototype.apply = null;
  try { // built-ins take no new property (see tests/attacks/state_reset_test.ts)
    Object.defineProperty(Object.prototype, "type", { get: function () { throw new Error("trap"); }, configurable: true });
  } catch (e) {}
  TykJS.TykMiddleware.NewMiddleware.prototype.ReturnData = function () { return null; };
  b64enc = function () { return "forged"; };
  return "tampered";
} };`;
  await withPool({ sources: [mw("/tamper.js", code, ["myMw", "evil"])] }, async (pool) => {
    assert.equal(await pool.call("evil", "run", []), "tampered");
    const out = await processRequest(pool, "{}", "{}", "myMw", "still works");
    assert.equal(out.Request.Body, "still works");
    assert.deepEqual(out.Request.SetHeaders, { "X-Native": "1" });
    assert.deepEqual(out.SessionMeta, {});
  });
});

Deno.test("sandbox: a plugin that spins forever at load does not hang the gateway or keep a thread", async () => {
  await withPool({ timeoutMs: 200, sources: [mw("/hang.js", "for (;;) {}", ["never"])] }, async (pool) => {
    const { issues } = await pool.load();
    assert.equal(issues[0].file, "/hang.js");
    assert.equal((await rejection(pool.call("never", "run", []))).kind, "missing");
  });
  await noThreadSpins();
});

Deno.test("sandbox: a plugin cannot turn off the runaway-code guard", async () => {
  const code = `__tyk_tick = function () {};\nvar spin = { run: function () { while (true) {} } };`;
  await withPool({ sources: [mw("/untick.js", code, ["spin"])] }, async (pool) => {
    const { issues } = await pool.load();
    assert.deepEqual(issues.map((i) => [i.line, i.message]), [[
      1,
      'names starting with "__tyk_" are reserved by the sandbox',
    ]]);
  });
  assert.match(
    await runProbe(
      `globalThis["__tyk_" + "tick"] = function () {}; delete globalThis["__tyk_" + "tick"]; return typeof eval("__tyk" + "_tick");`,
    ),
    /^blocked: SyntaxError: names starting with "__tyk_" are reserved/,
  );
});
