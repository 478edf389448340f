/**
 * A throw-away Redis Cluster for tests: primaries with one replica each, made by `redis-cli --cluster create`
 * on free loopback ports, with a 1 s node timeout so a killed primary is replaced within seconds.
 */
import { join } from "node:path";
import { freePort } from "./free_port.ts";
import { waitUntil } from "./wait_until.ts";
import { redisCli, startRedis, type TestRedis } from "./redis_server.ts";

/** One node of a test cluster. */
export interface ClusterNode {
  readonly port: number;
  readonly server: TestRedis;
}

/** A running test cluster. */
export interface TestRedisCluster {
  /** `127.0.0.1:port` of every node, the seeds a gateway is given. */
  readonly addrs: string[];
  readonly nodes: ClusterNode[];
  /** Ports of the nodes that currently serve slots as primaries. */
  primaries(): Promise<number[]>;
  /** The port of the primary that serves `key` now. */
  primaryOf(key: string): Promise<number>;
  /** Runs FLUSHALL on every primary (replicas follow). */
  flush(): Promise<void>;
  /** Resolves once every replica has received everything its primary holds. */
  synced(): Promise<void>;
  /** Kills the node on `port` and waits until the process is gone. */
  kill(port: number): Promise<void>;
  /** Resolves once a replica has taken over the slots of the dead primary on `port` and the cluster answers. */
  failedOver(port: number): Promise<void>;
  /** Moves the slot of `key` to the primary at `toPort` (a reshard of one slot, keys included). */
  moveSlotOf(key: string, toPort: number): Promise<void>;
  /** Kills every node and removes the data folder. */
  stop(): Promise<void>;
}

/** How to build a test cluster. */
export interface StartRedisClusterOptions {
  /** @default 3 */
  primaries?: number;
  /** Replicas per primary. @default 1 */
  replicas?: number;
  /** Extra `redis-server` arguments for every node (e.g. `--requirepass`). @default [] */
  args?: string[];
  /** Extra `redis-cli` arguments (e.g. `-a secret`). @default [] */
  cliArgs?: string[];
}

interface NodeInfo {
  port: number;
  id: string;
  primary: boolean;
  failed: boolean;
  slots: string[];
}

function parseNodes(text: string): NodeInfo[] {
  return text.trim().split("\n").map((line) => {
    const [id, addr, flags, , , , , , ...slots] = line.trim().split(" ");
    const port = Number(addr.split("@")[0].split(":").pop());
    const flagSet = new Set(flags.split(","));
    return { port, id, primary: flagSet.has("master"), failed: flagSet.has("fail"), slots };
  });
}

/** Starts the nodes, joins them into one cluster and waits until every node reports `cluster_state:ok`. */
export async function startRedisCluster(options: StartRedisClusterOptions = {}): Promise<TestRedisCluster> {
  const primaries = options.primaries ?? 3;
  const replicas = options.replicas ?? 1;
  const cli = options.cliArgs ?? [];
  const dir = await Deno.makeTempDir({ prefix: "portcullis-redis-cluster-" });
  const nodes: ClusterNode[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.server.stop()));
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    for (let i = 0; i < primaries * (1 + replicas); i++) {
      const port = freePort();
      const server = await startRedis({
        port,
        args: [
          "--cluster-enabled",
          "yes",
          // the bus port is chosen too, so port + 10000 need not be free or valid
          "--cluster-port",
          String(freePort()),
          "--cluster-config-file",
          join(dir, `nodes-${port}.conf`),
          "--cluster-node-timeout",
          "1000",
          // replicas sync at once rather than after Redis's 5 s batching delay
          "--repl-diskless-sync-delay",
          "0",
          "--dir",
          dir,
          ...(options.args ?? []),
        ],
      });
      nodes.push({ port, server });
    }
    const addrs = nodes.map((node) => `127.0.0.1:${node.port}`);
    await redisCli(nodes[0].port, [
      "--cluster",
      "create",
      ...addrs,
      "--cluster-replicas",
      String(replicas),
      "--cluster-yes",
    ], cli);
    for (const node of nodes) {
      await waitUntil(async () => {
        const role = await redisCli(node.port, ["info", "replication"], cli);
        return (await redisCli(node.port, ["cluster", "info"], cli)).includes("cluster_state:ok") &&
          (role.includes("role:master") || role.includes("master_link_status:up"));
      }, `node ${node.port} reports cluster_state:ok and, as a replica, a synced link`);
    }
  } catch (err) {
    await stop();
    throw err;
  }

  const dead = new Set<number>();
  const alive = () => nodes.find((node) => !dead.has(node.port))!;
  const topology = async () => parseNodes(await redisCli(alive().port, ["cluster", "nodes"], cli));
  const slotOf = async (key: string) =>
    Number((await redisCli(alive().port, ["cluster", "keyslot", key], cli)).trim());
  const primaryOf = async (key: string) => {
    const slot = await slotOf(key);
    const owner = (await topology()).find((node) =>
      node.primary && !node.failed && node.slots.some((range) => {
        if (range.startsWith("[")) return false;
        const [from, to = from] = range.split("-").map(Number);
        return slot >= from && slot <= to;
      })
    );
    if (owner === undefined) throw new Error(`No primary serves slot ${slot} of "${key}"`);
    return owner.port;
  };
  return {
    addrs: nodes.map((node) => `127.0.0.1:${node.port}`),
    nodes,
    primaries: async () => (await topology()).filter((n) => n.primary && !n.failed).map((n) => n.port),
    primaryOf,
    async flush() {
      for (const node of await topology()) {
        if (node.primary && !node.failed) await redisCli(node.port, ["flushall"], cli);
      }
    },
    async synced() {
      for (const node of (await topology()).filter((n) => n.primary && !n.failed)) {
        await waitUntil(async () => {
          const info = await redisCli(node.port, ["info", "replication"], cli);
          const offset = /master_repl_offset:(\d+)/.exec(info)![1];
          const replicas = [...info.matchAll(/slave\d+:.*offset=(\d+)/g)].map((m) => m[1]);
          return replicas.length > 0 && replicas.every((replicaOffset) => replicaOffset === offset);
        }, `the replicas of ${node.port} have caught up`);
      }
    },
    async kill(port) {
      const node = nodes.find((n) => n.port === port);
      if (node === undefined) throw new Error(`No node on port ${port}`);
      dead.add(port);
      await node.server.stop();
    },
    async failedOver(port) {
      await waitUntil(async () => {
        const info = await topology();
        return !info.some((n) => n.port === port && n.primary && !n.failed) &&
          (await redisCli(alive().port, ["cluster", "info"], cli)).includes("cluster_state:ok");
      }, `a replica replaces the primary on port ${port}`);
    },
    async moveSlotOf(key, toPort) {
      const slot = await slotOf(key);
      const fromPort = await primaryOf(key);
      if (fromPort === toPort) return;
      const info = await topology();
      const from = info.find((n) => n.port === fromPort)!;
      const to = info.find((n) => n.port === toPort)!;
      await redisCli(toPort, ["cluster", "setslot", String(slot), "importing", from.id], cli);
      await redisCli(fromPort, ["cluster", "setslot", String(slot), "migrating", to.id], cli);
      for (;;) {
        const keys = (await redisCli(fromPort, ["cluster", "getkeysinslot", String(slot), "100"], cli))
          .trim().split("\n").filter(Boolean);
        if (keys.length === 0) break;
        await redisCli(
          fromPort,
          ["migrate", "127.0.0.1", String(toPort), "", "0", "5000", "keys", ...keys],
          cli,
        );
      }
      for (const node of info.filter((n) => n.primary && !n.failed)) {
        await redisCli(node.port, ["cluster", "setslot", String(slot), "node", to.id], cli);
      }
    },
    stop,
  };
}
