import assert from "node:assert/strict";
import { waitUntil } from "../../../tests/support/wait_until.ts";
import {
  createSandboxPool,
  handlerAlias,
  type HostCallHandler,
  type JsvmError,
  type LoadIssue,
  type SandboxPool,
} from "./sandbox_pool.ts";
import { captureLog } from "../../capture_log.ts";
import {
  hostMarks,
  mw,
  processRequest,
  rejection,
  requestJson,
  testSupply,
  withPool,
} from "../../../tests/support/sandbox_pool.ts";
import { noThreadSpins } from "../../../tests/support/thread_cpu.ts";
import type { WorkerSupply } from "./worker_supply.ts";

const SESSION = JSON.stringify({ meta_data: { user: "ann" }, rate: 0 });
const SPEC = JSON.stringify({ APIID: "api-1", OrgID: "org-1", config_data: { greeting: "hi" } });

const TYK_PLUGIN = `
var myMw = new TykJS.TykMiddleware.NewMiddleware({});
myMw.NewProcessRequest(function (request, session, spec) {
  request.SetHeaders["X-Greeting"] = spec.config_data.greeting + " " + session.meta_data.user;
  request.Headers["X-Dropped"] = ["Tyk discards Headers edits"];
  request.Body = request.Body.toUpperCase() + " ✓";
  return myMw.ReturnData(request, { seen: true });
});
`;

Deno.test("call() runs a Tyk-style DoProcessRequest and returns its JSON envelope", async () => {
  await withPool({ sources: [mw("/plugins/hello.js", TYK_PLUGIN)] }, async (pool) => {
    assert.deepEqual(await pool.load(), { issues: [] });
    const out = await processRequest(pool, SESSION, SPEC, "myMw", "héllo");
    assert.equal(out.Request.Body, "HÉLLO ✓");
    assert.deepEqual(out.Request.Headers, {});
    assert.deepEqual(out.Request.SetHeaders, { "X-Greeting": "hi ann" });
    assert.deepEqual(out.SessionMeta, { seen: true });
  });
});

Deno.test("call() returns String() of the result, as Tyk's VM does", async () => {
  const code =
    `function ve(request, session, spec) { return TykJsResponse({ Body: "ok", Code: 200 }, session.meta_data); }
function nothing() {}
function object() { return { a: 1 }; }`;
  await withPool({ sources: [{ file: "/ve.js", code, names: ["ve"], kind: "virtual" }] }, async (pool) => {
    const out = await pool.call("ve", null, ["{}", SESSION, SPEC]);
    assert.deepEqual(JSON.parse(out), { Response: { Body: "ok", Code: 200 }, SessionMeta: { user: "ann" } });
    assert.equal(await pool.call("nothing", null, []), "undefined");
    assert.equal(await pool.call("object", null, []), "[object Object]");
  });
});

Deno.test("call() carries arguments and results larger than the shared buffers start with", async () => {
  const code = `function repeat(text, times) { return text.repeat(times) + "✓"; }`;
  await withPool(
    { sources: [{ file: "/big.js", code, names: ["repeat"], kind: "virtual" }] },
    async (pool) => {
      const text = "é".repeat(100_000); // 200 kB of UTF-8, past the 16 KiB first size
      const out = await pool.call("repeat", null, [JSON.stringify(text), "10"]);
      assert.equal(out.length, 1_000_001);
      assert.equal(out, text.repeat(10) + "✓");
      assert.equal(await pool.call("repeat", null, ['"ab"', "2"]), "abab✓"); // the grown buffers serve on
      // Calls queued together use every lane of the worker, each growing on its own.
      const sizes = [1, 30_000, 5, 90_000, 2, 50_000, 70_000, 3];
      const outs = await Promise.all(
        sizes.map((n, i) => pool.call("repeat", null, [JSON.stringify(`${i}é`.repeat(n)), "2"])),
      );
      outs.forEach((value, i) => assert.equal(value, `${i}é`.repeat(sizes[i] * 2) + "✓", `call ${i}`));
    },
  );
});

Deno.test("call() on otto shares one global scope: later declarations win, globals are visible", async () => {
  const first = mw("/a.js", `var shared = "from a"; var handler = { run: function () { return "a"; } };`, [
    "handler",
  ]);
  const second = mw("/b.js", `var handler = { run: function () { return "b:" + shared; } };`, ["handler"]);
  await withPool({ sources: [first, second] }, async (pool) => {
    assert.equal(await pool.call("handler", "run", []), "b:from a");
  });
});

Deno.test("call() on javascript keeps each middleware file private, reached through its alias", async () => {
  const first = mw("/a.js", `var secret = "a"; var handler = { run: function () { return "a"; } };`, [
    "handler",
  ]);
  const second = mw(
    "/b.js",
    `var handler = { run: function () { return "b sees " + typeof secret; } }; var only = { run: () => "only" };`,
    ["handler", "only"],
  );
  await withPool({ driver: "javascript", sources: [first, second] }, async (pool) => {
    assert.deepEqual(await pool.load(), { issues: [] });
    assert.equal(await pool.call(handlerAlias("/a.js", "handler"), "run", []), "a");
    assert.equal(await pool.call(handlerAlias("/b.js", "handler"), "run", []), "b sees undefined");
    assert.equal(await pool.call("only", "run", []), "only"); // one file exports it: the name is enough
    const ambiguous = await rejection(pool.call("handler", "run", []));
    assert.equal(ambiguous.kind, "missing");
  });
});

Deno.test("handlerAlias() is __tyk_h_, 12 hex digits and the sanitised name", () => {
  const alias = handlerAlias("/opt/mw/auth.js", "auth-mw");
  assert.match(alias, /^__tyk_h_[0-9a-f]{12}_auth_mw$/);
  assert.equal(handlerAlias("/opt/mw/auth.js", "auth-mw"), alias);
  assert.notEqual(handlerAlias("/opt/mw/other.js", "auth-mw"), alias);
});

Deno.test("load() reports each broken source with its file and line and loads the rest", async () => {
  const sources = [
    mw("/bad_syntax.js", "var ok = 1;\nvar alsoOk = 2;\nvar broken = ;\n"),
    mw("/throws.js", "var fine = 1;\nnull.boom;\n"),
    mw("/imports.js", 'var x = 1;\n  import("file:///etc/passwd");\n'),
    mw("/good.js", TYK_PLUGIN),
  ];
  for (const driver of ["otto", "javascript"] as const) {
    await withPool({ driver, sources }, async (pool) => {
      const { issues } = await pool.load();
      assert.deepEqual(
        issues.map(({ file, line }) => ({ file, line })),
        [{ file: "/bad_syntax.js", line: 3 }, { file: "/throws.js", line: 2 }, {
          file: "/imports.js",
          line: 2,
        }],
        driver,
      );
      assert.match(issues[0].message, /SyntaxError/);
      assert.match(issues[1].message, /TypeError/);
      assert.equal(issues[2].message, "dynamic import() is not allowed in a sandbox");
      assert.equal(issues[2].column, 3);
      const out = await processRequest(
        pool,
        SESSION,
        SPEC,
        driver === "otto" ? "myMw" : handlerAlias("/good.js", "myMw"),
        "x",
      );
      assert.equal(out.Request.Body, "X ✓");
    });
  }
});

Deno.test("call() rejects with kind missing when the target is not defined", async () => {
  await withPool({ sources: [mw("/a.js", "var notAFunction = {};")] }, async (pool) => {
    const missing = await rejection(pool.call("nowhere", "DoProcessRequest", ["{}"]));
    assert.equal(missing.kind, "missing");
    assert.match(missing.message, /nowhere\.DoProcessRequest/);
    const notCallable = await rejection(pool.call("notAFunction", "run", []));
    assert.equal(notCallable.kind, "missing");
    assert.match(notCallable.message, /notAFunction\.run/);
  });
});

Deno.test("call() rejects with kind threw and the plugin's file:line when it throws", async () => {
  const code = `var myMw = new TykJS.TykMiddleware.NewMiddleware({});
myMw.NewProcessRequest(function (request) {
  var x = 1;
  throw new Error("bad request " + x);
});`;
  for (const driver of ["otto", "javascript"] as const) {
    await withPool({ driver, sources: [mw("/plugins/throws.js", code)] }, async (pool) => {
      const error = await rejection(pool.call("myMw", "DoProcessRequest", [requestJson(""), "{}", "{}"]));
      assert.equal(error.kind, "threw");
      assert.equal(error.message, "Error: bad request 1");
      assert.equal(error.file, "/plugins/throws.js");
      assert.equal(error.line, 4, driver);
    });
  }
});

Deno.test("call() times out a while(true) and the next call runs on a fresh worker", async () => {
  const marks = hostMarks();
  // "loaded" is marked once the rest of the source has run, so a call made then meets a worker that is ready
  const code = `var spin = { run: function (n) {
    if (n === 1) { while (true) {} }
    if (n === 2) { for (;;) { try { for (var i = 0; ; i++) {} } catch (e) {} } }
    if (n === 3) { (function again() { Promise.resolve().then(again); })(); return "storm"; }
    return "done " + n;
  } };
  TykStorageGet("loaded");`;
  const sources = [mw("/spin.js", code, ["spin"])];
  // 1 s: the calls that should answer must do so within it on a busy machine too (300 ms did not always)
  await withPool({ timeoutMs: 1_000, hostCalls: marks.hostCalls, sources }, async (pool) => {
    await pool.load();
    const started = performance.now();
    const error = await rejection(pool.call("spin", "run", ["1"]));
    assert.equal(error.kind, "timeout");
    assert.ok(performance.now() - started < 10_000, "the hard timeout came long after 1 s");
    // A fresh worker starts at once; each call below waits for it, since starting one may take longer than
    // the timeout on a busy machine.
    await marks.reached("loaded", 2);
    assert.equal(await pool.call("spin", "run", ["4"]), "done 4");
    assert.equal((await rejection(pool.call("spin", "run", ["2"]))).kind, "timeout");
    await marks.reached("loaded", 3);
    // Its promise jobs never end by themselves; they stop soon after the next call arrives.
    assert.equal(await pool.call("spin", "run", ["3"]), "storm");
    assert.equal(await pool.call("spin", "run", ["4"]), "done 4");
    assert.equal(await pool.call("spin", "run", ["5"]), "done 5");
  });
  // Each runaway worker stopped its code and closed itself: no thread keeps spinning.
  await noThreadSpins();
});

/** `spin.run(1)` reaches the mark "spinning" and loops forever; `spin.run(n)` answers "done n". */
const SPIN_ON_ONE = `var spin = { run: function (n) {
  if (n === 1) { TykStorageGet("spinning"); while (true) {} }
  return "done " + n;
} };`;

Deno.test("call() queued behind a runaway call runs on the fresh worker that replaces it", async () => {
  const marks = hostMarks();
  const sources = [mw("/spin.js", SPIN_ON_ONE, ["spin"])];
  await withPool({ timeoutMs: 2_500, hostCalls: marks.hostCalls, sources }, async (pool) => {
    await pool.load();
    const stuck = rejection(pool.call("spin", "run", ["1"]));
    await marks.reached("spinning");
    // Deadlines count from call(): queued 2 s into the loop's 2.5 s, these have 2 s after it is killed for
    // the fresh worker to start, however busy the machine.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    // The one worker is busy: these queue in it, behind the loop, and are handed back when it is killed.
    const queued = [pool.call("spin", "run", ["2"]), pool.call("spin", "run", ["3"])];
    assert.equal((await stuck).kind, "timeout");
    assert.deepEqual(await Promise.all(queued), ["done 2", "done 3"]);
  });
});

Deno.test("call() on a second worker is not held up by a stuck one", async () => {
  const marks = hostMarks();
  // who.run() tells the workers apart: each draws its id while loading
  const who = `var id = String(Math.random()); var who = { run: function () { return id; } };`;
  const sources = [mw("/spin.js", SPIN_ON_ONE, ["spin"]), mw("/who.js", who, ["who"])];
  await withPool({ timeoutMs: 1_500, size: 2, hostCalls: marks.hostCalls, sources }, async (pool) => {
    // Two calls at a time start the second worker; once both have answered, both are idle and neither call
    // below waits for a worker to start
    const ids = new Set<string>();
    await waitUntil(async () => {
      for (const id of await Promise.all([pool.call("who", "run", []), pool.call("who", "run", [])])) {
        ids.add(id);
      }
      return ids.size === 2;
    }, "both workers answered");
    let stuckSettled = false;
    const stuck = rejection(pool.call("spin", "run", ["1"])).finally(() => stuckSettled = true);
    await marks.reached("spinning");
    assert.equal(await pool.call("spin", "run", ["2"]), "done 2");
    assert.equal(stuckSettled, false, "the second call waited for the stuck one");
    assert.equal((await stuck).kind, "timeout");
  });
});

Deno.test("call() in one API's pool answers while another API's pool is stuck", async () => {
  const marks = hostMarks();
  const spin = mw(
    "/spin.js",
    'var spin = { run: function () { TykStorageGet("spinning"); while (true) {} } };',
    [
      "spin",
    ],
  );
  const fast = mw("/fast.js", 'var fast = { run: function () { return "fast"; } };', ["fast"]);
  const stuckSpec = { apiId: "stuck", timeoutMs: 1_000, hostCalls: marks.hostCalls, sources: [spin] };
  await withPool(stuckSpec, async (stuckPool) => {
    await withPool({ apiId: "quick", sources: [fast] }, async (quickPool) => {
      await Promise.all([stuckPool.load(), quickPool.load()]);
      let stuckSettled = false;
      const stuck = rejection(stuckPool.call("spin", "run", [])).finally(() => stuckSettled = true);
      await marks.reached("spinning");
      assert.equal(await quickPool.call("fast", "run", []), "fast");
      assert.equal(stuckSettled, false, "the quick pool waited for the stuck one");
      assert.equal((await stuck).kind, "timeout");
    });
  });
});

Deno.test("call() queues FIFO when every worker is busy", async () => {
  // Each call logs as it runs, so the log shows the order the worker ran them in (results alone come back
  // in call order whatever the order of running). 12 calls: more than the worker itself can hold.
  const code = `var order = { run: function (n) { log("ran " + n); return String(n); } };`;
  await withPool({ sources: [mw("/order.js", code, ["order"])] }, async (pool, captured) => {
    await pool.load(); // started first: a busy machine may take a while to start a worker
    const calls = Array.from({ length: 12 }, (_, i) => pool.call("order", "run", [String(i + 1)]));
    assert.deepEqual(await Promise.all(calls), calls.map((_, i) => String(i + 1)));
    assert.deepEqual(captured.lines.map((line) => line.msg), calls.map((_, i) => `ran ${i + 1}`));
  });
});

Deno.test("call() serves a long queue of calls on one worker, each with its own answer", async () => {
  const code = `function echo(n) { return n; }`;
  // Deadlines count from call(): all 5,000 are queued at once, and a busy machine may take seconds to serve
  // them. The timeout is not what this test is about.
  await withPool(
    { timeoutMs: 60_000, sources: [{ file: "/echo.js", code, names: ["echo"], kind: "virtual" }] },
    async (pool) => {
      await pool.load();
      const calls = Array.from({ length: 5000 }, (_, i) => pool.call("echo", null, [String(i)]));
      const out = await Promise.all(calls);
      assert.equal(out.length, 5000);
      assert.ok(out.every((value, i) => value === String(i)));
    },
  );
});

Deno.test("call() queues calls in a busy worker and settles each after its own log lines", async () => {
  const code = `var chatty = { run: function (n) {
    for (var i = 0; i < 20; i++) log(n + ":" + i);
    return "done " + n;
  } };`;
  await withPool({ sources: [mw("/chatty.js", code, ["chatty"])] }, async (pool, captured) => {
    await pool.load();
    const calls = Array.from(
      { length: 12 },
      (_, n) =>
        pool.call("chatty", "run", [String(n)]).then((value) => {
          const mine = captured.lines.filter((line) => line.msg.startsWith(`${n}:`)).map((line) => line.msg);
          assert.deepEqual(mine, Array.from({ length: 20 }, (_, i) => `${n}:${i}`), `call ${n}`);
          return value;
        }),
    );
    assert.deepEqual(await Promise.all(calls), Array.from({ length: 12 }, (_, n) => `done ${n}`));
  });
});

Deno.test("call() queued behind a call waiting on a host call moves to another worker", async () => {
  const gates: (() => void)[] = [];
  const entered: (() => void)[] = [];
  const hostCalls: HostCallHandler = () => {
    entered.shift()?.();
    return new Promise((resolve) => gates.push(() => resolve("slow done")));
  };
  const code = `var t = {
    slow: function () { return TykMakeHttpRequest("{}"); },
    fast: function (n) { return "fast " + n; },
    busy: function (ms) { var end = Date.now() + ms; while (Date.now() < end) {} return "busy"; }
  };`;
  const inHostCall = () => new Promise<void>((resolve) => entered.push(resolve));
  await withPool(
    { hostCalls, size: 2, timeoutMs: 5_000, sources: [mw("/t.js", code, ["t"])] },
    async (pool) => {
      await pool.load();
      // A worker blocked in a host call takes no new call: the second worker starts for it.
      let waiting = inHostCall();
      const slow = pool.call("t", "slow", []);
      await waiting;
      assert.equal(await pool.call("t", "fast", ["1"]), "fast 1");
      gates.shift()!();
      assert.equal(await slow, "slow done");
      // Both workers busy: the third call queues in the first, which then blocks in a host call and hands
      // it back; it runs on the second worker while the host call is still unanswered.
      waiting = inHostCall();
      const slow2 = pool.call("t", "slow", []);
      const busy = pool.call("t", "busy", ["100"]);
      const fast = pool.call("t", "fast", ["2"]);
      await waiting;
      assert.equal(await fast, "fast 2");
      assert.equal(await busy, "busy");
      assert.equal(gates.length, 1, "the host call is still waiting");
      gates.shift()!();
      assert.equal(await slow2, "slow done");
    },
  );
});

Deno.test("call() starts each call with the state left by loading", async () => {
  const code = `var counter = 0;
var stats = { hits: 0, seen: [] };
let lexical = 0;
var state = { run: function (tag) {
  counter++; stats.hits++; stats.seen.push(tag); lexical++; leaked = tag; cache[tag] = true;
  return [counter, stats.hits, stats.seen.join(","), lexical, typeof previous, Object.keys(cache).join(",")].join("|");
} };
var cache = {};
var previous;`;
  await withPool({ sources: [mw("/state.js", code, ["state"])] }, async (pool) => {
    assert.equal(await pool.call("state", "run", ['"a"']), "1|1|a|1|undefined|a");
    assert.equal(await pool.call("state", "run", ['"b"']), "1|1|b|1|undefined|b");
    assert.equal(await pool.call("state", "run", ['"c"']), "1|1|c|1|undefined|c");
  });
});

Deno.test("call() on javascript starts each call with a fresh file scope", async () => {
  const code = `var counter = 0;
var myMw = { run: function () { counter++; return String(counter); } };`;
  await withPool({ driver: "javascript", sources: [mw("/count.js", code)] }, async (pool) => {
    assert.equal(await pool.call("myMw", "run", []), "1");
    assert.equal(await pool.call("myMw", "run", []), "1");
  });
});

Deno.test("wake() rouses a sleeping worker without running anything", async () => {
  const code = `var counter = 0; var state = { run: function () { counter++; return String(counter); } };`;
  // A worker is roused by Atomics.notify on its doorbell, which returns how many sleeping threads it woke.
  const notify = Atomics.notify;
  let waking = false;
  let woken = 0;
  Atomics.notify = ((array: Int32Array, index: number, count?: number) => {
    const n = notify(array, index, count);
    if (waking) woken += n;
    return n;
  }) as typeof Atomics.notify;
  const wake = (pool: SandboxPool) => {
    waking = true;
    try {
      pool.wake();
    } finally {
      waking = false;
    }
  };
  try {
    await withPool({ persistState: true, sources: [mw("/wake.js", code, ["state"])] }, async (pool) => {
      wake(pool); // nothing started yet: a no-op
      assert.equal(await pool.call("state", "run", []), "1");
      // The worker polls for a moment after a call, then sleeps; wake it until it has slept and been woken.
      await waitUntil(async () => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        wake(pool);
        return woken > 0;
      }, "wake() woke the sleeping worker");
      assert.equal(woken, 1);
      assert.equal(await pool.call("state", "run", []), "2"); // the last call was not run again
    });
  } finally {
    Atomics.notify = notify;
  }
});

Deno.test("call() keeps state between calls when persistState is on", async () => {
  const code = `var counter = 0; var state = { run: function () { counter++; return String(counter); } };`;
  await withPool({ persistState: true, sources: [mw("/state.js", code, ["state"])] }, async (pool) => {
    assert.equal(await pool.call("state", "run", []), "1");
    assert.equal(await pool.call("state", "run", []), "2");
  });
});

Deno.test("call() runs a call's promise jobs before the next call, which sees none of their changes", async () => {
  const code = `var counter = 0;
var later = { run: function () { Promise.resolve().then(function () { counter += 100; }); return String(counter); } };`;
  await withPool({ sources: [mw("/later.js", code, ["later"])] }, async (pool) => {
    assert.equal(await pool.call("later", "run", []), "0");
    assert.equal(await pool.call("later", "run", []), "0");
  });
});

Deno.test("call() settles only after the call's log lines have reached the logger", async () => {
  const code =
    `var chatty = { run: function () { for (var i = 0; i < 50; i++) log("line " + i); return "ok"; } };`;
  await withPool({ sources: [mw("/chatty.js", code, ["chatty"])] }, async (pool, captured) => {
    for (let round = 1; round <= 20; round++) {
      assert.equal(await pool.call("chatty", "run", []), "ok");
      assert.equal(captured.lines.length, 50 * round);
    }
  });
});

Deno.test("call() sends log(), rawlog() and console.* to the API's logger", async () => {
  const code = `log("loaded");
var talk = { run: function () {
  log("first", "ignored"); rawlog("raw line"); console.log("c", { a: 1 }, [2]); console.warn("careful"); console.error(new Error("oops"));
  return "ok";
} };`;
  await withPool({ sources: [mw("/talk.js", code, ["talk"])] }, async (pool, captured) => {
    assert.equal(await pool.call("talk", "run", []), "ok");
    assert.deepEqual(captured.lines.map(({ level, msg }) => [level, msg]), [
      ["info", "loaded"],
      ["info", "first"],
      ["raw", "raw line"],
      ["info", 'c {"a":1} [2]'],
      ["warn", "careful"],
      ["error", "Error: oops"],
    ]);
    for (const line of captured.lines.filter((l) => l.level !== "raw")) {
      assert.deepEqual(line.fields, { api_id: "api-1", type: "log-msg" });
    }
  });
});

Deno.test("call() serves host calls synchronously through the handler", async () => {
  const big = "x".repeat(1024 * 1024) + "é";
  const seen: [string, string[]][] = [];
  const hostCalls: HostCallHandler = async (op, args) => {
    seen.push([op, args]);
    await Promise.resolve();
    switch (op) {
      case "TykMakeHttpRequest":
        return JSON.parse(args[0]).Resource === "/big" ? big : JSON.stringify({ Code: 200, Body: "pong" });
      case "TykGetKeyData":
        return undefined;
      case "TykStorageGet":
        if (args[0] === "broken") throw new Error("store down");
        return args[0] === "present" ? "value" : undefined;
      case "TykStorageSetNX":
        return "true";
      case "TykStorageTTL":
        return "-2";
      case "TykStorageIncr":
        return "3";
      default:
        return "ignored";
    }
  };
  const code = `var host = { run: function () {
  var r = JSON.parse(TykMakeHttpRequest(JSON.stringify({ Method: "GET", Domain: "http://up", Resource: "/ping" })));
  var big = TykMakeHttpRequest(JSON.stringify({ Resource: "/big" }));
  var caught;
  try { TykStorageGet("broken"); } catch (e) { caught = e.message; }
  return JSON.stringify([r.Body, big.length, big.slice(-1), TykGetKeyData("k"), TykStorageGet("present"),
    TykStorageGet("absent"), TykStorageSetNX("k", 1, 10), TykStorageTTL("k"), TykStorageIncr("n", 5),
    TykStorageSet("k", "v", 0), caught]);
} };`;
  await withPool({ hostCalls, sources: [mw("/host.js", code, ["host"])] }, async (pool, captured) => {
    const out = JSON.parse(await pool.call("host", "run", []));
    assert.deepEqual(out, ["pong", big.length, "é", null, "value", null, true, -2, "3", null, "store down"]);
    assert.deepEqual(seen[0], ["TykMakeHttpRequest", [
      '{"Method":"GET","Domain":"http://up","Resource":"/ping"}',
    ]]);
    assert.deepEqual(seen.find(([op]) => op === "TykStorageSetNX"), ["TykStorageSetNX", ["k", "1", "10"]]);
    assert.ok(
      captured.lines.some((l) => l.level === "error" && /TykStorageGet failed: store down/.test(l.msg)),
    );
  });
});

Deno.test("call() gets undefined from host functions when no handler is configured", async () => {
  const code = `var host = { run: function () {
  return [typeof TykMakeHttpRequest("{}"), typeof TykStorageGet("k"), typeof TykGetKeyData("k", "a")].join(",");
} };`;
  await withPool({ sources: [mw("/host.js", code, ["host"])] }, async (pool) => {
    assert.equal(await pool.call("host", "run", []), "undefined,undefined,undefined");
  });
});

Deno.test("call() times out while a host call hangs, and aborts the handler's signal", async () => {
  let aborted: Promise<unknown> | undefined;
  const hostCalls: HostCallHandler = (_op, _args, signal) => {
    aborted = new Promise((resolve) => signal.addEventListener("abort", () => resolve(signal.reason)));
    return new Promise((_resolve, reject) => signal.addEventListener("abort", () => reject(signal.reason)));
  };
  const code = `var host = { run: function () { return TykMakeHttpRequest("{}"); } };`;
  // Loaded first and given 1 s, so the call is in the host call when it times out, however busy the machine
  await withPool({ hostCalls, timeoutMs: 1_000, sources: [mw("/host.js", code, ["host"])] }, async (pool) => {
    await pool.load();
    const error = await rejection(pool.call("host", "run", []));
    assert.equal(error.kind, "timeout");
    assert.ok(aborted !== undefined);
    assert.equal(((await aborted) as JsvmError).kind, "timeout");
  });
});

Deno.test("close() waits for the call in flight, then later calls reject with kind closed", async () => {
  const code =
    `var slow = { run: function () { var end = Date.now() + 150; while (Date.now() < end) {} return "finished"; } };`;
  const captured = captureLog();
  const pool = createSandboxPool({
    apiId: "a",
    orgId: "o",
    driver: "otto",
    timeoutMs: 2_000,
    size: 1,
    log: captured,
    sources: [mw("/slow.js", code, ["slow"])],
  });
  await pool.load();
  const inFlight = pool.call("slow", "run", []);
  const closing = pool.close();
  assert.equal(await inFlight, "finished");
  await closing;
  await pool.close(); // idempotent
  assert.equal((await rejection(pool.call("slow", "run", []))).kind, "closed");
});

Deno.test("close() without load() starts nothing", async () => {
  // A worker that started would load the source, which logs and makes a host call.
  const hostCalls: string[] = [];
  const log = captureLog();
  const pool = createSandboxPool({
    apiId: "a",
    orgId: "o",
    driver: "otto",
    timeoutMs: 1_000,
    size: 1,
    log,
    hostCalls: (op) => (hostCalls.push(op), Promise.resolve("{}")),
    sources: [mw("/loud.js", 'log("loading"); TykMakeHttpRequest("{}"); var myMw = {};')],
  });
  await pool.close();
  assert.deepEqual([log.lines, hostCalls], [[], []]);
  assert.equal((await rejection(pool.call("myMw", "run", []))).kind, "closed");
  assert.deepEqual([log.lines, hostCalls], [[], []]);
});

Deno.test("load() leaves out a source that hangs while loading and reports it", async () => {
  const sources = [mw("/hang.js", "while (true) {}"), mw("/good.js", TYK_PLUGIN)];
  // 1 s, also the time good.js has to load: 300 ms was not always enough for it on a busy machine
  await withPool({ timeoutMs: 1_000, sources }, async (pool) => {
    const { issues } = await pool.load();
    assert.equal(issues.length, 1);
    assert.equal(issues[0].file, "/hang.js");
    assert.match(issues[0].message, /longer than 1000 ms/);
    assert.equal((await processRequest(pool, SESSION, SPEC, "myMw", "y")).Request.Body, "Y ✓");
  });
});

Deno.test("createSandboxPool() refuses a timeout or size that is not positive", () => {
  const base = { apiId: "a", orgId: "o", driver: "otto" as const, log: captureLog(), sources: [] };
  assert.throws(() => createSandboxPool({ ...base, timeoutMs: 0, size: 1 }), RangeError);
  assert.throws(() => createSandboxPool({ ...base, timeoutMs: 100, size: 0 }), RangeError);
});

Deno.test("close() while calls loop: each still times out at its own deadline, then close() resolves", async () => {
  const code = `var spin = { run: function () { while (true) {} } };`;
  await withPool({ timeoutMs: 400, size: 2, sources: [mw("/spin.js", code, ["spin"])] }, async (pool) => {
    await pool.load();
    const first = rejection(pool.call("spin", "run", []));
    await new Promise((r) => setTimeout(r, 150)); // the second call's deadline comes after the first's
    const second = rejection(pool.call("spin", "run", []));
    await new Promise((r) => setTimeout(r, 50));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const closed = await Promise.race([
      pool.close().then(() => true),
      new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), 5_000)),
    ]);
    clearTimeout(timer);
    assert.ok(closed, "close() waits for calls that never time out");
    assert.equal((await first).kind, "timeout");
    assert.equal((await second).kind, "timeout");
  });
  await noThreadSpins();
});

Deno.test("createSandboxPool() reports refused and broken sources with file:line and starts no worker", async () => {
  const sources = [
    mw("/logs.js", 'log("loaded");\nvar thrown = 1;\nnull.boom;\n', ["thrown"]),
    mw("/bad_syntax.js", "var ok = 1;\nvar broken = ;\n"),
    mw("/imports.js", 'var x = 1;\n  import("file:///etc/passwd");\n'),
    mw("/good.js", TYK_PLUGIN),
  ];
  for (const driver of ["otto", "javascript"] as const) {
    let taken = 0;
    const supply: WorkerSupply = {
      take: (memoryLimitMb) => (taken++, testSupply.take(memoryLimitMb)),
      close: () => {},
    };
    const loaded: LoadIssue[][] = [];
    const spec = { driver, sources, supply, onLoad: (issues: LoadIssue[]) => loaded.push(issues) };
    await withPool(spec, async (pool, captured) => {
      assert.deepEqual(
        pool.issues.map(({ file, line, column }) => ({ file, line, column })),
        [{ file: "/bad_syntax.js", line: 2, column: 14 }, { file: "/imports.js", line: 2, column: 3 }],
        driver,
      );
      assert.match(pool.issues[0].message, /^SyntaxError: /);
      // No sandbox thread was taken, and no source ran.
      assert.equal(taken, 0, "no sandbox thread was taken");
      assert.ok(!captured.lines.some((line) => line.msg === "loaded"));
      assert.equal(loaded.length, 0);
      // The first call starts the sandbox: what fails only when it runs is reported then, once.
      const target = driver === "otto" ? "myMw" : handlerAlias("/good.js", "myMw");
      assert.equal((await processRequest(pool, SESSION, SPEC, target, "x")).Request.Body, "X ✓");
      assert.equal(taken, 1, "the call took one sandbox thread");
      assert.ok(captured.lines.some((line) => line.msg === "loaded"));
      assert.deepEqual(loaded.map((issues) => issues.map(({ file, line }) => ({ file, line }))), [[{
        file: "/logs.js",
        line: 3,
      }]]);
    });
  }
});

Deno.test("call() after idleMs without calls runs on a fresh worker; the idle one was stopped", async () => {
  const code = `var counter = 0; var state = { run: function () { counter++; return String(counter); } };`;
  const sources = [mw("/state.js", code, ["state"])];
  // A fresh sandbox may take seconds to boot on a busy machine: the calls' time limit is not what is tested
  await withPool({ persistState: true, idleMs: 200, timeoutMs: 20_000, sources }, async (pool, captured) => {
    assert.equal(await pool.call("state", "run", []), "1");
    assert.equal(await pool.call("state", "run", []), "2");
    const stopped = () => captured.lines.some((line) => line.msg.startsWith("Stopped a JS sandbox idle"));
    await waitUntil(stopped, "the idle worker is stopped");
    assert.equal(await pool.call("state", "run", []), "1"); // the globals of a new sandbox
    assert.equal(await pool.call("state", "run", []), "2");
  });
});

Deno.test("call() is never cut by idleMs: a worker running a call or holding queued calls stays", async () => {
  const code = `var slow = { run: function (n) {
    var until = Date.now() + 300; while (Date.now() < until) {}
    return "done " + n;
  } };`;
  await withPool(
    { idleMs: 20, timeoutMs: 5_000, sources: [mw("/slow.js", code, ["slow"])] },
    async (pool, captured) => {
      await pool.load();
      // One worker: the first call runs for 300 ms, 15 idle periods, while the others wait behind it.
      const calls = [1, 2, 3].map((n) => pool.call("slow", "run", [String(n)]));
      assert.deepEqual(await Promise.all(calls), ["done 1", "done 2", "done 3"]);
      assert.ok(!captured.lines.some((line) => line.msg.startsWith("Stopped a JS sandbox idle")));
    },
  );
});

Deno.test("createSandboxPool() refuses a negative idleMs", () => {
  const base = { apiId: "a", orgId: "o", driver: "otto" as const, log: captureLog(), sources: [] };
  assert.throws(() => createSandboxPool({ ...base, timeoutMs: 100, size: 1, idleMs: -1 }), RangeError);
});

Deno.test("call() made before any sandbox started gets its timeoutMs from the start, not from the call", async () => {
  // Three sources that take 300 ms each to load: 900 ms of start-up, more than the 800 ms a call may take
  const busy = (ms: number) => `var until = Date.now() + ${ms}; while (Date.now() < until) {}`;
  const calls = `var calls = { quick: function () { return "ok"; }, slow: function () { ${busy(3000)} } };`;
  const sources = [
    mw("/a.js", busy(300), []),
    mw("/b.js", busy(300), []),
    mw("/c.js", `${busy(300)}\n${calls}`, ["calls"]),
  ];
  await withPool({ timeoutMs: 800, sources }, async (pool) => {
    assert.equal(await pool.call("calls", "quick", []), "ok");
    // once started, a call has its 800 ms from the call on
    assert.equal((await rejection(pool.call("calls", "slow", []))).kind, "timeout");
  });
});
