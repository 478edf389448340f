/**
 * Attack: state that survives the per-call reset. One request changes built-in objects and the global
 * object in every way JavaScript allows (non-enumerable and symbol-keyed properties, replaced methods,
 * read-only and frozen built-ins, a changed prototype chain); the next request to the same sandbox must see
 * none of it, as Tyk's fresh VM per call would.
 */
import assert from "node:assert/strict";
import { keylessApi, startGateway, withPlugins } from "../support/gateway.ts";
import { startUpstream } from "../support/upstream.ts";

/** Each change a call may try; what it throws (if it does) is reported, and none may outlive the call. */
const CHANGES: Record<string, string> = {
  hiddenOnPrototype:
    'Object.defineProperty(Object.prototype, "p", { value: 1, enumerable: false, configurable: true })',
  symbolOnPrototype: 'Object.prototype[Symbol.for("s")] = 1',
  replacedStatic: "Date.now = function () { return 1; }",
  replacedMethod: "Array.prototype.map = function () { return ['hijacked']; }",
  hiddenGlobal: 'Object.defineProperty(globalThis, "hidden", { value: 1 })',
  symbolGlobal: 'globalThis[Symbol.for("g")] = 1',
  readOnlyStatic:
    'Object.defineProperty(Math, "max", { value: function () { return -1; }, writable: false })',
  readOnlyByReflect: 'if (!Reflect.defineProperty(JSON, "parse", { value: null, writable: false })) throw 1',
  frozenBuiltin: "Object.freeze(String.prototype)",
  frozenGlobal: "Object.freeze(globalThis)",
  newStatic: "Math.leak = 1",
  accessor: 'Object.defineProperty(Number.prototype, "toFixed", { get: function () { return 1; } })',
  prototypeChain: "Object.setPrototypeOf(Array.prototype, { leak: 1 })",
  deleted: "delete Promise.prototype.then",
  iteratorPrototype: 'Object.getPrototypeOf([][Symbol.iterator]()).leak = "it"',
};

/** What a later call sees; every entry must read false. */
const LEAKS = `{
  hiddenOnPrototype: ({}).p !== undefined,
  symbolOnPrototype: ({})[Symbol.for("s")] !== undefined,
  replacedStatic: Date.now() < 1e12,
  replacedMethod: [1].map(function (x) { return x; })[0] !== 1,
  hiddenGlobal: "hidden" in globalThis,
  symbolGlobal: Symbol.for("g") in globalThis,
  readOnlyStatic: Math.max(1, 2) !== 2,
  readOnlyByReflect: typeof JSON.parse !== "function",
  frozenBuiltin: Object.isFrozen(String.prototype),
  frozenGlobal: Object.isFrozen(globalThis) || !Object.isExtensible(globalThis),
  newStatic: "leak" in Math,
  accessor: typeof (1).toFixed !== "function",
  prototypeChain: [].leak !== undefined,
  deleted: typeof Promise.prototype.then !== "function",
  iteratorPrototype: [][Symbol.iterator]().leak !== undefined,
}`;

const PLUGIN = `var probe = new TykJS.TykMiddleware.NewMiddleware({});
probe.NewProcessRequest(function (request, session, spec) {
  var out = {};
  if (request.Params.change) {
    var changes = ${JSON.stringify(CHANGES)};
    for (var name in changes) {
      try { eval(changes[name]); out[name] = "done"; } catch (e) { out[name] = String(e).slice(0, 100); }
    }
  } else {
    out = ${LEAKS};
  }
  request.ReturnOverrides.ResponseCode = 200;
  request.ReturnOverrides.ResponseBody = JSON.stringify(out);
  return probe.ReturnData(request, {});
});
`;

Deno.test("attack: no change a call makes to built-ins or the global object reaches the next call", async () => {
  const upstream = await startUpstream();
  const gw = await startGateway({
    conf: { enable_jsvm: true, jsvm_pool_size: 1 },
    files: { "plugins/probe.js": PLUGIN },
    apps: {
      "probe.json": withPlugins(keylessApi("probe", "/probe/", upstream.url), {
        pre: [{ name: "probe", path: "plugins/probe.js" }],
      }),
    },
  });
  try {
    const see = async (query = "") => {
      const res = await fetch(`${gw.url}/probe/${query}`);
      assert.equal(res.status, 200, gw.logs());
      return await res.json() as Record<string, unknown>;
    };
    const clean = Object.fromEntries(Object.keys(CHANGES).map((name) => [name, false]));
    assert.deepEqual(await see(), clean, "a fresh sandbox sees no change");
    const tried = await see("?change=1");
    // the changes a reset could not undo are refused in the call itself
    for (const name of ["readOnlyStatic", "frozenBuiltin", "frozenGlobal"]) {
      assert.match(String(tried[name]), /^TypeError: Cannot (make|freeze)/, name);
    }
    assert.match(String(tried.readOnlyByReflect), /^1$/);
    // a call may still replace a built-in's method for itself (Tyk allows it), but not add to a built-in
    assert.equal(tried.replacedStatic, "done");
    assert.equal(tried.replacedMethod, "done");
    assert.match(
      String(tried.hiddenOnPrototype),
      /^TypeError: Cannot define property p, object is not extensible/,
    );
    assert.deepEqual(await see(), clean, "the next call sees none of it");
    assert.deepEqual(await see(), clean);
  } finally {
    await gw.stop();
    await upstream.stop();
  }
});
