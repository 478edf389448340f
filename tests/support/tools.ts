/**
 * Which programs the tests can start. A test that needs one that is missing is ignored; `.ci/run` installs them
 * all and fails on any ignored test, so only a developer's machine may skip them.
 */

/** True when `name` is an executable file in a folder of PATH. */
export function onPath(name: string): boolean {
  return (Deno.env.get("PATH") ?? "").split(":").some((dir) => {
    try {
      const info = Deno.statSync(`${dir || "."}/${name}`);
      return info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0;
    } catch {
      return false;
    }
  });
}

/** True when `redis-server` and `redis-cli` are installed (single servers, clusters, sentinels, TLS). */
export function hasRedisServer(): boolean {
  return onPath("redis-server") && onPath("redis-cli");
}

/** True when `openssl` is installed (tests that make certificates). */
export function hasOpenssl(): boolean {
  return onPath("openssl");
}

/** True when util-linux `prlimit` can start the gateway under other descriptor limits (Linux only). */
export function hasPrlimit(): boolean {
  return Deno.build.os === "linux" && onPath("prlimit");
}

/** Where Debian's `libnginx-mod-http-js` puts njs, nginx's JavaScript module. */
export const NJS_MODULE = "/usr/lib/nginx/modules/ngx_http_js_module.so";

/** What `deno task bench` needs and is not installed: `wrk`, `nginx`, njs. */
export function missingBenchTools(): string[] {
  const missing = ["wrk", "nginx"].filter((tool) => !onPath(tool));
  try {
    Deno.statSync(NJS_MODULE);
  } catch {
    missing.push(`njs (${NJS_MODULE})`);
  }
  return missing;
}
