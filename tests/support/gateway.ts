/**
 * Starts the real gateway (`main.ts`) as a child process on a temporary folder holding tyk.conf, apps/
 * and middleware/, waits for its "listening" log line and collects its log.
 */
import { join } from "node:path";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const ROOT = new URL("../../", import.meta.url).pathname;
/** How the tests run the gateway: with the flags of `deno task start`, read from deno.json (their one source). */
const RUN_ARGS = ["run", ...startTaskFlags(), MAIN, "--conf"];

/** The permission and V8 flags between `deno run` and `main.ts` in deno.json's `start` task. */
function startTaskFlags(): string[] {
  const task = String(JSON.parse(Deno.readTextFileSync(join(ROOT, "deno.json"))).tasks?.start);
  const words = task.trim().split(/\s+/);
  const main = words.indexOf("main.ts");
  if (words[0] !== "deno" || words[1] !== "run" || main < 0) {
    throw new Error(`Cannot read the gateway's flags: deno.json's start task is "${task}"`);
  }
  return words.slice(2, main);
}

/** What a test gateway is started with. */
export interface GatewaySetup {
  /** tyk.conf fields; listen_port 0, secret and app_path are filled in unless given. */
  conf?: Record<string, unknown>;
  /** apps/<name> → API definition (object, or raw text for broken files). */
  apps?: Record<string, unknown>;
  /** Extra files relative to the folder (plugins, templates): path → text. */
  files?: Record<string, string>;
  /** Use this folder (restart tests), which the caller removes; otherwise a temporary one goes on `stop()`. */
  dir?: string;
  env?: Record<string, string>;
  /** Start under these open-file limits (through util-linux `prlimit`, Linux only). */
  nofile?: { soft: number; hard: number };
  /** Extra `deno run` flags, e.g. `--cpu-prof` for a benchmark. */
  denoFlags?: string[];
}

/** A running gateway process. */
export interface TestGateway {
  url: string;
  port: number;
  /** The gateway's process id (benchmarks read its RSS). */
  pid: number;
  dir: string;
  secret: string;
  /** Everything the gateway logged so far. */
  logs: () => string;
  /** Waits until the log contains `text` (bounded by `timeoutMs`). */
  waitForLog(text: string | RegExp, timeoutMs?: number): Promise<void>;
  /** Calls the control API with the secret. */
  admin(path: string, init?: RequestInit): Promise<Response>;
  stop(): Promise<void>;
}

export const SECRET = "test-secret";

/** Writes the setup to a folder and starts the gateway on it. */
export async function startGateway(setup: GatewaySetup = {}): Promise<TestGateway> {
  if (setup.dir !== undefined) return await writeSetup(setup.dir, setup);
  // a folder made here goes with the gateway (or with its failed start); one the caller gave is the caller's
  const dir = await Deno.makeTempDir({ prefix: "portcullis-test-" });
  let gateway: TestGateway;
  try {
    gateway = await writeSetup(dir, setup);
  } catch (err) {
    await Deno.remove(dir, { recursive: true });
    throw err;
  }
  return {
    ...gateway,
    async stop() {
      await gateway.stop();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

async function writeSetup(dir: string, setup: GatewaySetup): Promise<TestGateway> {
  await Deno.mkdir(join(dir, "apps"), { recursive: true });
  const conf = {
    listen_port: 0,
    secret: SECRET,
    app_path: "apps",
    listen_address: "127.0.0.1",
    ...setup.conf,
  };
  await Deno.writeTextFile(join(dir, "tyk.conf"), JSON.stringify(conf, null, 2));
  for (const [name, def] of Object.entries(setup.apps ?? {})) {
    await Deno.writeTextFile(
      join(dir, "apps", name),
      typeof def === "string" ? def : JSON.stringify(def, null, 2),
    );
  }
  for (const [path, text] of Object.entries(setup.files ?? {})) {
    await Deno.mkdir(join(dir, path, ".."), { recursive: true });
    await Deno.writeTextFile(join(dir, path), text);
  }
  return await spawnGateway(dir, String(conf.secret ?? ""), setup.env, {
    nofile: setup.nofile,
    denoFlags: setup.denoFlags,
  });
}

/** How {@link spawnGateway} starts the gateway. */
export interface SpawnOptions extends Pick<GatewaySetup, "nofile" | "denoFlags"> {
  /**
   * Run `deno task <task>` in the folder, the README's way (the folder then holds deno.json and main.ts), so
   * the gateway reads the folder's `tyk.conf` (and `pid` is the task runner's, which passes signals on); by
   * default main.ts runs with `--conf <dir>/tyk.conf`.
   */
  task?: string;
}

/** Starts the gateway on an existing folder. */
export async function spawnGateway(
  dir: string,
  secret = SECRET,
  env: Record<string, string> = {},
  options: SpawnOptions = {},
): Promise<TestGateway> {
  const { nofile, denoFlags = [], task } = options;
  const args = task !== undefined
    ? ["task", task]
    : [RUN_ARGS[0], ...denoFlags, ...RUN_ARGS.slice(1), join(dir, "tyk.conf")];
  // prlimit sets the limits and then execs Deno, so the child's pid stays the gateway's
  const child = new Deno.Command(nofile ? "prlimit" : Deno.execPath(), {
    args: nofile ? [`--nofile=${nofile.soft}:${nofile.hard}`, Deno.execPath(), ...args] : args,
    cwd: task !== undefined ? dir : ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...env },
  }).spawn();
  let log = "";
  const waiters = new Set<() => void>();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      log += text;
      for (const w of waiters) w();
    }
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  const waitForLog = (text: string | RegExp, timeoutMs = 20_000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (typeof text === "string" ? log.includes(text) : text.test(log)) {
          waiters.delete(check);
          clearTimeout(timer);
          resolve();
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`Gateway did not log ${text} within ${timeoutMs} ms. Log:\n${log}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  const exited = child.status;
  try {
    await Promise.race([
      waitForLog(/Gateway listening on \S+:(\d+)/),
      exited.then((s) =>
        Promise.reject(new Error(`Gateway exited with ${s.code} before listening:\n${log}`))
      ),
    ]);
  } catch (err) {
    try {
      child.kill();
    } catch { /* gone */ }
    await exited;
    await pumps;
    throw err;
  }
  const port = Number(/Gateway listening on \S+:(\d+)/.exec(log)![1]);
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    port,
    pid: child.pid,
    dir,
    secret,
    logs: () => log,
    waitForLog,
    admin: (path, init = {}) =>
      fetch(url + path, { ...init, headers: { "x-tyk-authorization": secret, ...init.headers } }),
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      await exited;
      await pumps;
    },
  };
}

/** Runs a gateway command line to completion (for start-up failure tests). */
export async function runGatewayToExit(
  confPath: string,
  timeoutMs = 20_000,
): Promise<{ code: number; log: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [...RUN_ARGS, confPath],
    cwd: ROOT,
    stdin: "null",
    env: { NO_COLOR: "1" },
    signal: AbortSignal.timeout(timeoutMs),
  }).output();
  const decoder = new TextDecoder();
  return { code: out.code, log: decoder.decode(out.stdout) + decoder.decode(out.stderr) };
}

/** A classic keyless API definition for tests. */
export function keylessApi(
  apiId: string,
  listenPath: string,
  targetUrl: string,
  extra: Record<string, unknown> = {},
) {
  return {
    api_id: apiId,
    org_id: "default",
    name: apiId,
    use_keyless: true,
    version_data: { not_versioned: true, versions: { Default: { name: "Default" } } },
    proxy: { listen_path: listenPath, target_url: targetUrl, strip_listen_path: true },
    ...extra,
  };
}

/** A classic auth-token API definition for tests. */
export function tokenApi(
  apiId: string,
  listenPath: string,
  targetUrl: string,
  extra: Record<string, unknown> = {},
) {
  return keylessApi(apiId, listenPath, targetUrl, {
    use_keyless: false,
    auth: { auth_header_name: "Authorization" },
    ...extra,
  });
}

/** The `version_data` of an unversioned API whose Default version has these `extended_paths`. */
export function defaultVersion(extendedPaths: Record<string, unknown>) {
  return {
    version_data: {
      not_versioned: true,
      versions: { Default: { name: "Default", use_extended_paths: true, extended_paths: extendedPaths } },
    },
  };
}

/** `def` with a `custom_middleware` block (driver otto unless `middleware` names one) and `extra` fields. */
export function withPlugins(
  def: Record<string, unknown>,
  middleware: Record<string, unknown>,
  extra: Record<string, unknown> = {},
) {
  return { ...def, custom_middleware: { driver: "otto", ...middleware }, ...extra };
}
