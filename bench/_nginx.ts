/**
 * nginx for the benchmarks, run in the foreground from a temporary prefix on loopback: an upstream that
 * answers `return 200 "ok"`, and optionally nginx's own keep-alive proxy in front of it (the reference a
 * gateway is measured against). Needs Debian's `nginx` (or `nginx-light`).
 */
import { freePort } from "../tests/support/free_port.ts";

/** A running nginx. */
export interface Nginx {
  /** The `return 200` upstream. */
  okUrl: string;
  /** nginx proxying to {@link okUrl} with a keep-alive pool. */
  proxyUrl: string;
  pid: number;
  stop(): Promise<void>;
}

/** Options of {@link startNginx}. */
export interface NginxOptions {
  /** Worker processes. @default 1 (one core, like the gateway's one event loop) */
  workers?: number;
}

function config(prefix: string, okPort: number, proxyPort: number, workers: number): string {
  return `worker_processes ${workers};
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
  upstream ok { server 127.0.0.1:${okPort}; keepalive 128; }
  server {
    listen 127.0.0.1:${okPort};
    location / { return 200 "ok"; }
  }
  server {
    listen 127.0.0.1:${proxyPort};
    location / {
      proxy_pass http://ok;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
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
 * @throws Error when nginx is not installed or does not start
 */
export async function startNginx(options: NginxOptions = {}): Promise<Nginx> {
  const prefix = await Deno.makeTempDir({ prefix: "portcullis-nginx-" });
  const okPort = freePort();
  const proxyPort = freePort();
  await Deno.writeTextFile(`${prefix}/nginx.conf`, config(prefix, okPort, proxyPort, options.workers ?? 1));
  const child = new Deno.Command("nginx", {
    args: ["-p", prefix, "-e", `${prefix}/error.log`, "-c", `${prefix}/nginx.conf`],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  try {
    await Promise.race([
      Promise.all([waitForPort(okPort, 5000), waitForPort(proxyPort, 5000)]),
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
    okUrl: `http://127.0.0.1:${okPort}`,
    proxyUrl: `http://127.0.0.1:${proxyPort}`,
    pid: child.pid,
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
