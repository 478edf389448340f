/**
 * The plugin test runner on the command line, offline (no gateway, no network):
 *
 *   deno task plugin-test <plugin.js> --hook pre --request req.json [--session s.json]
 *     [--config-data c.json] [--response res.json] [--org-id id] [--api-id id] [--timeout seconds]
 *
 * Prints the JSON `POST /tyk/plugins/test` answers. Exit code 0 when the plugin ran, 1 when it failed
 * (syntax, timeout, runtime), 2 when the command line or a file is wrong. Relative file names are read
 * from the folder the command was typed in.
 */
import { basename, resolve } from "node:path";
import { parsePluginTestInput } from "../config/plugin_test_input.ts";
import { runPluginTest } from "./run_plugin.ts";

const USAGE =
  "Usage: deno task plugin-test <plugin.js> --hook <pre|post|post_key_auth|auth_check|response> " +
  "[--request req.json] [--session s.json] [--config-data c.json] [--response res.json] " +
  "[--org-id id] [--api-id id] [--timeout seconds]";

/** Tyk's default `jsvm_timeout`. */
const DEFAULT_TIMEOUT_S = 5;
const OPTIONS = new Set([
  "hook",
  "request",
  "session",
  "config-data",
  "response",
  "org-id",
  "api-id",
  "timeout",
]);

/** A command line that cannot be run; the message is printed with the usage. */
class UsageError extends Error {
  override name = "UsageError";
}

/** Reads `<plugin> --name value …` (also `--name=value`). */
export function parseArgs(args: string[]): { plugin: string; options: Map<string, string> } {
  const options = new Map<string, string>();
  let plugin: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith("--")) {
      if (plugin !== undefined) throw new UsageError(`Cannot take a second plugin file: ${arg}`);
      plugin = arg;
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (!OPTIONS.has(name)) throw new UsageError(`Unknown option --${name}`);
    const value = eq < 0 ? args[++i] : arg.slice(eq + 1);
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    options.set(name, value);
  }
  if (plugin === undefined) throw new UsageError("Name the plugin file to test");
  if (!options.has("hook")) throw new UsageError("--hook is required");
  return { plugin, options };
}

/**
 * The folder relative file names are typed in: `deno task` runs its command in the repository, so the folder
 * the user was in comes from the `INIT_CWD` it sets (when the task may read it), else the working directory.
 */
function invocationDir(): string {
  const env = Deno.permissions.querySync({ name: "env", variable: "INIT_CWD" });
  return (env.state === "granted" && Deno.env.get("INIT_CWD")) || Deno.cwd();
}

async function readJsonFile(path: string, option: string): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(resolve(invocationDir(), path));
  } catch (err) {
    throw new UsageError(`Cannot read --${option} ${path}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`Cannot read --${option} ${path}: not valid JSON (${(err as Error).message})`);
  }
}

/** Runs the command line; resolves with the exit code. */
export async function main(args: string[]): Promise<number> {
  try {
    const { plugin, options } = parseArgs(args);
    let code: string;
    try {
      code = await Deno.readTextFile(resolve(invocationDir(), plugin));
    } catch (err) {
      throw new UsageError(`Cannot read the plugin ${plugin}: ${(err as Error).message}`);
    }
    const body: Record<string, unknown> = {
      code,
      hook_type: options.get("hook"),
      org_id: options.get("org-id") ?? "default",
      api_id: options.get("api-id") ?? "",
    };
    for (
      const [option, field] of [["request", "request"], ["session", "session"], ["response", "response"]]
    ) {
      const path = options.get(option);
      if (path !== undefined) body[field] = await readJsonFile(path, option);
    }
    const configData = options.get("config-data");
    if (configData !== undefined) body.config_data = await readJsonFile(configData, "config-data");
    const seconds = Number(options.get("timeout") ?? DEFAULT_TIMEOUT_S);
    if (!(seconds > 0)) throw new UsageError(`--timeout must be a number of seconds above 0`);

    const input = parsePluginTestInput(body);
    if ("error" in input) throw new UsageError(input.error);
    const result = await runPluginTest(input, { timeoutMs: seconds * 1000, file: basename(plugin) });
    console.log(JSON.stringify(result));
    return result.error ? 1 : 0;
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`${err.message}\n${USAGE}`);
    return 2;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
