/**
 * Tyk's cluster notifications (`gateway/redis_signals.go`): signed JSON messages on
 * `tyk.cluster.notifications`, used for group reloads and session-cache eviction across gateways.
 */
import { createHash } from "node:crypto";
import type { Logger } from "../log.ts";
import type { Store, Subscription } from "../store/store.ts";

/** The pub/sub channel Tyk gateways share. */
export const CLUSTER_CHANNEL = "tyk.cluster.notifications";

const RELOAD_COMMANDS = new Set(["ApiUpdated", "ApiRemoved", "ApiAdded", "PolicyChanged", "GroupReload"]);

/** Signs a notification the way Tyk does: hex SHA-256 of command + payload + node_secret. */
export function signNotification(command: string, payload: string, nodeSecret: string): string {
  return createHash("sha256").update(command + payload + nodeSecret).digest("hex");
}

/** How this gateway reacts to notifications. */
export interface ClusterOptions {
  store: Store;
  nodeSecret: string;
  allowInsecure: boolean;
  log: Logger;
  onReload: () => void;
  onEvict: (ids: string[]) => void;
}

/** Publishes a notification to every gateway on the store (including this one). */
export async function publishNotification(
  store: Store,
  command: string,
  payload: string,
  nodeSecret: string,
): Promise<void> {
  const signature = signNotification(command, payload, nodeSecret);
  await store.publish(CLUSTER_CHANNEL, JSON.stringify({ command, payload, signature, algorithm: 5 }));
}

/** Subscribes to cluster notifications; returns the subscription to close on shutdown. */
export function subscribeCluster(options: ClusterOptions): Promise<Subscription> {
  const { log } = options;
  return options.store.subscribe(CLUSTER_CHANNEL, (text) => {
    let message: { command?: unknown; payload?: unknown; signature?: unknown };
    try {
      message = JSON.parse(text);
    } catch {
      return log.warn("Ignoring a cluster notification that is not JSON");
    }
    const command = String(message.command ?? "");
    const payload = String(message.payload ?? "");
    const signed = message.signature === signNotification(command, payload, options.nodeSecret);
    if (!signed && !options.allowInsecure) {
      return log.warn("Ignoring an unsigned or wrongly signed cluster notification", { command });
    }
    if (RELOAD_COMMANDS.has(command)) {
      log.info("Reload requested by cluster notification", { command });
      options.onReload();
    } else if (command === "KeySpaceUpdateNotification") {
      options.onEvict(payload.split(",").map((entry) => entry.split(":")[0]).filter(Boolean));
    }
  });
}
