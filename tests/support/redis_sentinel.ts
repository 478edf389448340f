/**
 * A throw-away Sentinel setup for tests: a primary, a replica and three sentinels (quorum 2) on free
 * loopback ports, run by `redis-server --sentinel` so only `redis-server` is needed. A dead primary is
 * noticed after 1 s.
 */
import { join } from "node:path";
import { freePort } from "./free_port.ts";
import { waitUntil } from "./wait_until.ts";
import { redisCli, startRedis, type TestRedis } from "./redis_server.ts";

/** A running test Sentinel setup. */
export interface TestRedisSentinel {
  /** The name sentinels monitor the primary under (`storage.master_name`). */
  readonly masterName: string;
  /** `127.0.0.1:port` of each sentinel (`storage.addrs`). */
  readonly sentinelAddrs: string[];
  /** The port of the current primary, as the sentinels report it. */
  primaryPort(): Promise<number>;
  /** Resolves once the replica has received everything the primary holds. */
  synced(): Promise<void>;
  /** Kills the current primary, waits until the process is gone and returns its port. */
  killPrimary(): Promise<number>;
  /** Resolves with the new primary's port once the sentinels have promoted a replica in place of `old`. */
  failedOver(old: number): Promise<number>;
  stop(): Promise<void>;
}

/** How to build a test Sentinel setup. */
export interface StartRedisSentinelOptions {
  /** `requirepass` of the primary and replica (`storage.password`). @default "" */
  password?: string;
  /** `requirepass` of the sentinels (`storage.sentinel_password`). @default "" */
  sentinelPassword?: string;
}

const MASTER_NAME = "portcullis-primary";

/** Starts the primary, its replica and three sentinels, and waits until the sentinels see both nodes. */
export async function startRedisSentinel(
  options: StartRedisSentinelOptions = {},
): Promise<TestRedisSentinel> {
  const password = options.password ?? "";
  const sentinelPassword = options.sentinelPassword ?? "";
  const dir = await Deno.makeTempDir({ prefix: "portcullis-redis-sentinel-" });
  const servers: TestRedis[] = [];
  const stop = async () => {
    await Promise.all(servers.map((server) => server.stop()));
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  // replication writes RDB files into the working folder unless told otherwise
  const dataArgs = ["--dir", dir, ...(password ? ["--requirepass", password, "--masterauth", password] : [])];
  const sentinelCli = sentinelPassword ? ["-a", sentinelPassword, "--no-auth-warning"] : [];
  const dataCli = password ? ["-a", password, "--no-auth-warning"] : [];
  const sentinelPorts: number[] = [];
  try {
    const primary = await startRedis({ args: [...dataArgs, "--repl-diskless-sync-delay", "0"] });
    servers.push(primary);
    const replica = await startRedis({
      args: [
        ...dataArgs,
        "--replicaof",
        "127.0.0.1",
        String(primary.port),
        "--repl-diskless-sync-delay",
        "0",
      ],
    });
    servers.push(replica);
    await waitUntil(
      async () =>
        (await redisCli(replica.port, ["info", "replication"], dataCli)).includes("master_link_status:up"),
      "the replica has synced",
    );
    for (let i = 0; i < 3; i++) {
      const port = freePort();
      const conf = join(dir, `sentinel-${port}.conf`);
      await Deno.writeTextFile(
        conf,
        [
          `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${primary.port} 2`,
          `sentinel down-after-milliseconds ${MASTER_NAME} 1000`,
          `sentinel failover-timeout ${MASTER_NAME} 5000`,
          ...(password ? [`sentinel auth-pass ${MASTER_NAME} ${password}`] : []),
          ...(sentinelPassword
            ? [`requirepass ${sentinelPassword}`, `sentinel sentinel-pass ${sentinelPassword}`]
            : []),
          "",
        ].join("\n"),
      );
      servers.push(await startRedis({ port, sentinelConf: conf, ready: `+monitor master ${MASTER_NAME}` }));
      sentinelPorts.push(port);
    }
    for (const port of sentinelPorts) {
      await waitUntil(async () => {
        const replicas = await redisCli(port, ["sentinel", "replicas", MASTER_NAME], sentinelCli);
        const sentinels = await redisCli(port, ["sentinel", "sentinels", MASTER_NAME], sentinelCli);
        return replicas.includes(String(replica.port)) &&
          sentinelPorts.every((p) => p === port || sentinels.includes(String(p)));
      }, `sentinel ${port} knows the replica and the other sentinels`);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const primaryPort = async () => {
    const reply = await redisCli(
      sentinelPorts[0],
      ["sentinel", "get-master-addr-by-name", MASTER_NAME],
      sentinelCli,
    );
    return Number(reply.trim().split("\n")[1]);
  };
  return {
    masterName: MASTER_NAME,
    sentinelAddrs: sentinelPorts.map((port) => `127.0.0.1:${port}`),
    primaryPort,
    async synced() {
      const port = await primaryPort();
      await waitUntil(async () => {
        const info = await redisCli(port, ["info", "replication"], dataCli);
        const offset = /master_repl_offset:(\d+)/.exec(info)![1];
        return [...info.matchAll(/slave\d+:.*offset=(\d+)/g)].some((m) => m[1] === offset);
      }, "the replica has caught up");
    },
    async killPrimary() {
      const old = await primaryPort();
      await servers.find((server) => server.port === old)!.stop();
      return old;
    },
    async failedOver(old) {
      await waitUntil(async () => {
        const now = await primaryPort();
        if (now === old) return false;
        return (await redisCli(now, ["info", "replication"], dataCli)).includes("role:master");
      }, `the sentinels promote a replica in place of ${old}`);
      return await primaryPort();
    },
    stop,
  };
}
