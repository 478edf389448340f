import assert from "node:assert/strict";
import {
  createUpstreamTarget,
  stripListenPath,
  upstreamRequestTarget,
  type UpstreamTarget,
} from "./upstream_url.ts";

interface Routed {
  t: UpstreamTarget;
  listenPath: string;
}

function target(url: string, listenPath: string, strip = true, disableStripSlash = false): Routed {
  return { t: createUpstreamTarget(url, { stripListenPath: strip, disableStripSlash }), listenPath };
}

function url(routed: Routed, path: string, query: string) {
  return routed.t.origin + upstreamRequestTarget(routed.t, routed.listenPath, path, query);
}

Deno.test("upstreamRequestTarget() strips the listen path and joins with one slash", () => {
  assert.equal(url(target("http://u:9000/", "/api/"), "/api/users", ""), "http://u:9000/users");
  assert.equal(url(target("http://u:9000/base/", "/api/"), "/api/users/", ""), "http://u:9000/base/users/");
  assert.equal(url(target("http://u:9000/base", "/api/"), "/api//users", ""), "http://u:9000/base/users");
});

Deno.test("upstreamRequestTarget() keeps the listen path when strip_listen_path is off", () => {
  assert.equal(url(target("http://u/", "/api/", false), "/api/users", ""), "http://u/api/users");
});

Deno.test("upstreamRequestTarget() sends the trimmed target path for an empty request path", () => {
  assert.equal(url(target("http://u/base/", "/api/"), "/api/", ""), "http://u/base");
  assert.equal(url(target("http://u/", "/api/"), "/api/", ""), "http://u/");
  assert.equal(url(target("http://u", "/api"), "/api", ""), "http://u/");
  assert.equal(url(target("http://u/base/", "/api/", true, true), "/api/", ""), "http://u/base/");
});

Deno.test("upstreamRequestTarget() puts the target query first", () => {
  assert.equal(url(target("http://u/?a=1", "/api/"), "/api/x", "b=2&b=3"), "http://u/x?a=1&b=2&b=3");
  assert.equal(url(target("http://u/?a=1", "/api/"), "/api/x", ""), "http://u/x?a=1");
  assert.equal(url(target("http://u/", "/api/"), "/api/x", "b=2"), "http://u/x?b=2");
});

Deno.test("createUpstreamTarget() maps ws, wss and h2c to http(s)", () => {
  assert.equal(target("ws://u:1/", "/a/").t.origin, "http://u:1");
  assert.equal(target("wss://u/", "/a/").t.origin, "https://u");
  assert.equal(target("h2c://u/", "/a/").t.origin, "http://u");
});

Deno.test("stripListenPath() returns / for the bare listen path", () => {
  assert.equal(stripListenPath("/api", "/api/"), "/");
  assert.equal(stripListenPath("/api/", "/api/"), "/");
  assert.equal(stripListenPath("/apix", "/api"), "/x");
});
