import assert from "node:assert/strict";
import { Router } from "./router.ts";

const api = (apiId: string, listenPath: string) => ({ apiId, listenPath });

Deno.test("Router.match() prefers the longest listen path", () => {
  const router = new Router([api("a", "/app/"), api("b", "/app/admin/")]);
  assert.equal(router.match("/app/admin/x")?.api.apiId, "b");
  assert.equal(router.match("/app/x")?.api.apiId, "a");
  assert.equal(router.match("/other"), null);
});

Deno.test("Router.match() is a plain prefix match without strict routes", () => {
  const router = new Router([api("a", "/sample")]);
  assert.equal(router.match("/samplefoo")?.api.apiId, "a");
  assert.equal(new Router([api("a", "/sample/")]).match("/sample"), null);
});

Deno.test("Router.match() with strict routes only matches the path or its children", () => {
  const router = new Router([api("a", "/app")], { strictRoutes: true });
  assert.equal(router.match("/apple"), null);
  assert.equal(router.match("/app")?.api.apiId, "a");
  assert.equal(router.match("/app/x")?.api.apiId, "a");
});

Deno.test("Router.match() also routes /<api_id>/ and says which prefix matched", () => {
  const router = new Router([api("abc", "/x/")]);
  assert.deepEqual(router.match("/abc/y")?.prefix, "/abc/");
  assert.deepEqual(router.match("/x/y")?.prefix, "/x/");
});
