/**
 * nginx for the benchmarks, run in the foreground from a temporary prefix on loopback: an upstream that
 * answers `return 200 "ok"`, and nginx's own keep-alive proxy in front of it (the reference a gateway is
 * measured against), optionally with two njs locations. Needs Debian's `nginx` (or `nginx-light`), and for
 * njs `libnginx-mod-http-js`.
 */
import { freePort } from "../tests/support/free_port.ts";
import { NJS_MODULE } from "../tests/support/tools.ts";

/** A running nginx. */
export interface Nginx {
  /** The `return 200` upstream: this nginx's own, or the one given as {@link NginxOptions.upstream}. */
  okUrl: string;
  /**
   * nginx proxying to {@link okUrl} with a keep-alive pool. With {@link NginxOptions.njs}, under
   * `/njs-filter/` the same proxy also runs an njs header filter that adds a header, and `/njs-content/`
   * answers "ok" from njs (`js_content`).
   */
  proxyUrl: string;
  /** The master process. */
  pid: number;
  /** The first worker process, which serves the requests (its CPU and memory are the proxy's). */
  workerPid(): Promise<number>;
  stop(): Promise<void>;
}

/** Options of {@link startNginx}. */
export interface NginxOptions {
  /** Worker processes. @default 1 (one core, like the gateway's one event loop) */
  workers?: number;
  /** Proxy to this origin (`http://127.0.0.1:port`) instead of starting a `return 200` server here. */
  upstream?: string;
  /** Load njs and serve its two locations (see {@link Nginx.proxyUrl}). */
  njs?: boolean;
}

const NJS_SCRIPT = `function filter(r) { r.headersOut["X-Njs"] = "1"; }
function content(r) { r.return(200, "ok"); }
export default { filter, content };
`;

function config(prefix: string, upstream: string, okPort: number | null, proxyPort: number, o: NginxOptions) {
  const proxy = `proxy_pass http://ok;
      proxy_http_version 1.1;
      proxy_set_header Connection "";`;
  return `${o.njs ? `load_module ${NJS_MODULE};\n` : ""}worker_processes ${o.workers ?? 1};
daemon off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  keepalive_requests 1000000;
  ${o.njs ? `js_import bench from ${prefix}/bench.js;` : ""}
  upstream ok { server ${upstream}; keepalive 128; }
  ${
    okPort === null ? "" : `server {
    listen 127.0.0.1:${okPort};
    location / { return 200 "ok"; }
  }`
  }
  server {
    listen 127.0.0.1:${proxyPort};
    location / {
      ${proxy}
    }
    ${
    o.njs
      ? `location /njs-filter/ {
      js_header_filter bench.filter;
      ${proxy}
    }
    location /njs-content/ { js_content bench.content; }`
      : ""
  }
  }
}
`;
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch (err) {
      if (Date.now() > until) throw new Error(`nginx did not listen on ${port}: ${err}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/**
 * Starts nginx in a temporary prefix; `stop()` ends it and removes the folder.
 * @throws Error when nginx (or, with `njs`, its module) is not installed or does not start
 */
export async function startNginx(options: NginxOptions = {}): Promise<Nginx> {
  const prefix = await Deno.makeTempDir({ prefix: "portcullis-nginx-" });
  const okPort = options.upstream ? null : freePort();
  const upstream = options.upstream ? new URL(options.upstream).host : `127.0.0.1:${okPort}`;
  const proxyPort = freePort();
  await Deno.writeTextFile(`${prefix}/nginx.conf`, config(prefix, upstream, okPort, proxyPort, options));
  if (options.njs) await Deno.writeTextFile(`${prefix}/bench.js`, NJS_SCRIPT);
  const child = new Deno.Command("nginx", {
    args: ["-p", prefix, "-e", `${prefix}/error.log`, "-c", `${prefix}/nginx.conf`],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  try {
    await Promise.race([
      Promise.all([okPort === null ? null : waitForPort(okPort, 5000), waitForPort(proxyPort, 5000)]),
      child.status.then(async () => {
        throw new Error(`nginx exited: ${await stderr}`);
      }),
    ]);
  } catch (err) {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
    await child.status;
    await Deno.remove(prefix, { recursive: true });
    throw err;
  }
  return {
    okUrl: options.upstream ?? `http://127.0.0.1:${okPort}`,
    proxyUrl: `http://127.0.0.1:${proxyPort}`,
    pid: child.pid,
    async workerPid() {
      const children = await Deno.readTextFile(`/proc/${child.pid}/task/${child.pid}/children`);
      return Number(children.trim().split(/\s+/)[0]) || child.pid;
    },
    async stop() {
      try {
        child.kill("SIGQUIT");
      } catch { /* gone */ }
      await child.status;
      await stderr;
      await Deno.remove(prefix, { recursive: true });
    },
  };
}
