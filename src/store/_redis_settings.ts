/**
 * Turns tyk.conf's `storage` block into how to reach Redis: the mode, the addresses and the TLS material.
 * Certificate files are read and checked here, once, so a missing file or a key that does not match its
 * certificate stops start-up naming the field instead of failing every connection later.
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import { logger } from "../log.ts";
import type { RedisAddr, RedisSettings, RedisTls } from "./_redis_clients.ts";
import type { StorageOptions } from "./storage_options.ts";

const log = logger("redis");

/** Splits `host:port` or `[v6]:port`. */
function parseAddr(addr: string, field: string): RedisAddr {
  const match = /^\[?(.*?)\]?:(\d+)$/.exec(addr);
  if (match === null) throw new RangeError(`Cannot use ${field} "${addr}": expected host:port`);
  return { host: match[1], port: Number(match[2]) };
}

/**
 * The addresses as Tyk picks them: `addrs`, else the deprecated `hosts` map, else `host`/`port`. They are the
 * server, the cluster's seed nodes, or the sentinels, depending on the mode.
 */
function addresses(storage: StorageOptions): RedisAddr[] {
  if (storage.addrs?.length) return storage.addrs.map((addr) => parseAddr(addr, "storage.addrs entry"));
  const hosts = Object.entries(storage.hosts ?? {});
  if (hosts.length > 0) {
    return hosts.map(([host, port]) => parseAddr(`${host}:${port}`, "storage.hosts entry"));
  }
  return [{ host: storage.host || "localhost", port: storage.port || 6379 }];
}

async function readPem(field: string, path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    const reason = err instanceof Deno.errors.NotFound
      ? "file not found"
      : err instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : (err as Error).message;
    throw new RangeError(`Cannot read ${field} ${path}: ${reason}`, { cause: err });
  }
}

function certificate(field: string, path: string, pem: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw new RangeError(`Cannot use ${field} ${path}: it holds no PEM certificate`, { cause: err });
  }
}

/** Tyk's `"1.2"`/`"1.3"` as Node names them; older versions are not available, so they mean 1.2. */
function tlsVersion(version: string | undefined, fallback: "TLSv1.2" | "TLSv1.3"): "TLSv1.2" | "TLSv1.3" {
  if (version === "1.3") return "TLSv1.3";
  return version === "" || version === undefined ? fallback : "TLSv1.2";
}

async function tlsSettings(storage: StorageOptions): Promise<RedisTls> {
  const tls: RedisTls = {
    verify: !storage.ssl_insecure_skip_verify,
    minVersion: tlsVersion(storage.tls_min_version, "TLSv1.2"),
    maxVersion: tlsVersion(storage.tls_max_version, "TLSv1.3"),
  };
  if (!tls.verify) {
    log.warn("storage.ssl_insecure_skip_verify is on: the Redis server's certificate is not checked");
  }
  if (storage.ca_file) {
    tls.ca = await readPem("storage.ca_file", storage.ca_file);
    certificate("storage.ca_file", storage.ca_file, tls.ca);
  }
  if (storage.cert_file && storage.key_file) {
    tls.cert = await readPem("storage.cert_file", storage.cert_file);
    tls.key = await readPem("storage.key_file", storage.key_file);
    const cert = certificate("storage.cert_file", storage.cert_file, tls.cert);
    let matches: boolean;
    try {
      matches = cert.checkPrivateKey(createPrivateKey(tls.key));
    } catch (err) {
      throw new RangeError(`Cannot use storage.key_file ${storage.key_file}: it holds no PEM private key`, {
        cause: err,
      });
    }
    if (!matches) {
      throw new RangeError(
        `Cannot use storage.key_file ${storage.key_file}: it is not the key of storage.cert_file ${storage.cert_file}`,
      );
    }
  }
  return tls;
}

/**
 * Resolves the Redis connection settings. `master_name` means Sentinel (with the sentinels in `addrs`) and
 * `enable_cluster` a Redis Cluster, as in Tyk; option combinations were checked when tyk.conf was loaded.
 * @throws RangeError naming the field, for a malformed address or a TLS file that cannot be used
 */
export async function redisSettings(storage: StorageOptions): Promise<RedisSettings> {
  const addrs = addresses(storage);
  const mode = storage.master_name ? "sentinel" : storage.enable_cluster ? "cluster" : "single";
  return {
    mode,
    addrs,
    username: storage.username,
    password: storage.password,
    database: mode === "cluster" ? undefined : storage.database,
    masterName: storage.master_name || undefined,
    sentinelPassword: storage.sentinel_password,
    tls: storage.use_ssl ? await tlsSettings(storage) : undefined,
    timeoutMs: (storage.timeout || 5) * 1000,
  };
}
