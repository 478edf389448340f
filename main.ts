/**
 * Portcullis: a Tyk-compatible API gateway. `portcullis --conf <tyk.conf>` (default `./tyk.conf`).
 */
import { dirname, resolve } from "node:path";
import { ConfigError, loadGatewayConfig } from "./src/config/gateway_config.ts";
import { logger, setLogLevel } from "./src/log.ts";
import { startGateway } from "./src/server/gateway.ts";

const USAGE = "Usage: portcullis [--conf <path to tyk.conf>]";

/** Reads `--conf <path>` or `--conf=<path>` from the command line. */
export function confPath(args: string[]): string {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--conf" || args[i] === "-c") return args[i + 1] ?? "";
    if (args[i].startsWith("--conf=")) return args[i].slice("--conf=".length);
    if (args[i] === "--help" || args[i] === "-h") {
      console.log(USAGE);
      Deno.exit(0);
    }
  }
  return "tyk.conf";
}

async function main(): Promise<void> {
  const log = logger("main");
  const path = confPath(Deno.args);
  if (!path) {
    console.error(`--conf needs a path. ${USAGE}`);
    Deno.exit(2);
  }
  let config;
  try {
    config = await loadGatewayConfig(path);
  } catch (err) {
    if (err instanceof ConfigError) {
      log.error(err.message);
      Deno.exit(1);
    }
    throw err;
  }
  setLogLevel(config.log_level);
  let gateway;
  try {
    gateway = await startGateway(config, dirname(resolve(path)));
  } catch (err) {
    // a setting found unusable only when used (a certificate file, an address) names its field in the message
    if (!(err instanceof RangeError)) throw err;
    log.error(`Cannot start: ${err.message}`);
    Deno.exit(1);
  }
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await gateway.stop();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}

if (import.meta.main) await main();
