import assert from "node:assert/strict";
import { assignListenPaths, type Listening } from "./listen_paths.ts";

function api(apiId: string, path = "/sample"): Listening {
  return { apiId, listenPath: path, def: { proxy: { listen_path: path } } };
}

function served(apis: Listening[]): Record<string, string> {
  return Object.fromEntries(apis.map((a) => [a.apiId, a.listenPath]));
}

Deno.test("assignListenPaths() follows Tyk's TestApiHandlerPostDupPath through four reloads", () => {
  const first = assignListenPaths([api("1")], []).apis;
  assert.deepEqual(served(first), { 1: "/sample" });
  const second = assignListenPaths([api("1"), api("2"), api("3")], first);
  assert.deepEqual(served(second.apis), { 1: "/sample", 2: "/sample-2", 3: "/sample-3" });
  assert.deepEqual(second.moves, [
    { apiId: "2", from: "/sample", to: "/sample-2", keptBy: "1" },
    { apiId: "3", from: "/sample", to: "/sample-3", keptBy: "1" },
  ]);
  // moved APIs stay moved while they contest the path, even with its owner gone
  const third = assignListenPaths([api("2"), api("3")], second.apis).apis;
  assert.deepEqual(served(third), { 2: "/sample-2", 3: "/sample-3" });
  const fourth = assignListenPaths([api("1"), api("2"), api("3")], third).apis;
  assert.deepEqual(served(fourth), { 1: "/sample", 2: "/sample-2", 3: "/sample-3" });
});

Deno.test("assignListenPaths() keeps the path with the API that served it, wherever it is in load order", () => {
  const before = assignListenPaths([api("z")], []).apis;
  assert.deepEqual(served(assignListenPaths([api("a"), api("z")], before).apis), {
    a: "/sample-a",
    z: "/sample",
  });
});

Deno.test("assignListenPaths() adds _ until the moved path is free, and gives a path back once uncontested", () => {
  const { apis } = assignListenPaths([api("1"), api("2"), api("x", "/sample-2")], []);
  assert.deepEqual(served(apis), { 1: "/sample", 2: "/sample-2_", x: "/sample-2" });
  const alone = assignListenPaths([api("2")], apis).apis;
  assert.deepEqual(served(alone), { 2: "/sample" });
});

Deno.test("assignListenPaths() returns an API whose path does not change as the same object", () => {
  const one = api("1");
  assert.equal(assignListenPaths([one], []).apis[0], one);
});
