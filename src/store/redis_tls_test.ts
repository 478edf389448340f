/**
 * The Redis store over TLS, against a real TLS-only redis-server (TLS 1.3 only, client certificates required,
 * an ACL user) with a CA made by openssl for this file: the store contract, then each TLS setting and each
 * certificate problem.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { capturingLog } from "../../tests/support/console_log.ts";
import { hasOpenssl, hasRedisServer } from "../../tests/support/tools.ts";
import {
  makeTestCertificates,
  startTlsRedis,
  type TestCertificates,
  TLS_USER,
} from "../../tests/support/redis_tls.ts";
import { openStore } from "./open_store.ts";
import type { StorageOptions } from "./storage_options.ts";
import { stepStoreContract } from "./store_contract.ts";

const ignore = !hasRedisServer() || !hasOpenssl();
if (ignore) console.warn("redis_tls_test.ts: skipped, redis-server or openssl is not installed");

Deno.test(
  "redis tls: the Redis store over TLS with a client certificate and an ACL user",
  { ignore },
  async (t) => {
    const certs: TestCertificates = await makeTestCertificates();
    const redis = await startTlsRedis(certs);
    const options = (fields: Partial<StorageOptions> = {}): StorageOptions => ({
      type: "redis",
      host: "127.0.0.1",
      port: redis.port,
      ...TLS_USER,
      use_ssl: true,
      ca_file: certs.caFile,
      cert_file: certs.clientCert,
      key_file: certs.clientKey,
      timeout: 2,
      ...fields,
    });
    /** Opens a store that should not connect; returns the warnings it logged and checks calls fail fast. */
    const refused = (fields: Partial<StorageOptions>) =>
      capturingLog(async (lines) => {
        await using store = await openStore(options(fields));
        assert.equal(await store.ping(), false);
        await assert.rejects(store.get("k"), /Redis unavailable at 127\.0\.0\.1:\d+/);
        return lines.filter((line) => line.includes("Redis unavailable"));
      });
    try {
      await stepStoreContract(t, async () => {
        await redis.cli(["flushall"]);
        return await openStore(options({ tls_min_version: "1.2", tls_max_version: "1.3" }));
      });

      await t.step("ssl_insecure_skip_verify connects without the CA and says so", async () => {
        await capturingLog(async (lines) => {
          await using store = await openStore(options({ ca_file: "", ssl_insecure_skip_verify: true }));
          await store.set("insecure", "yes");
          assert.equal(await store.get("insecure"), "yes");
          assert.equal(
            lines.filter((line) => line.includes("storage.ssl_insecure_skip_verify is on")).length,
            1,
          );
        });
      });

      await t.step("a server certificate from another CA is one clear log line", async () => {
        const warnings = await refused({ ca_file: certs.otherCaFile });
        assert.equal(warnings.length, 1, warnings.join("\n"));
        assert.match(
          warnings[0],
          /level=warn .*TLS certificate of the server not accepted: .*certificate.*storage\.ca_file and storage\.ssl_insecure_skip_verify/,
        );
      });

      await t.step("no client certificate for a server that requires one is one log line", async () => {
        // the server's alert comes after the handshake, and Deno's node:tls may throw it where nothing catches
        // it; twenty tries make that path near certain, and the process must live through it
        for (let i = 0; i < 20; i++) {
          const warnings = await refused({ cert_file: "", key_file: "" });
          assert.equal(warnings.length, 1, warnings.join("\n"));
          assert.match(warnings[0], /received fatal alert: CertificateRequired/);
        }
      });

      await t.step("tls_max_version 1.2 is honoured: a TLS 1.3-only server is not reached", async () => {
        const warnings = await refused({ tls_max_version: "1.2" });
        assert.equal(warnings.length, 1, warnings.join("\n"));
        assert.match(warnings[0], /ProtocolVersion|protocol/i);
        await using store = await openStore(options({ tls_min_version: "1.3" }));
        assert.equal(await store.ping(), true);
      });

      await t.step("the ACL user's password is checked", async () => {
        const warnings = await refused({ password: "wrong" });
        assert.equal(warnings.length, 1, warnings.join("\n"));
        assert.match(warnings[0], /WRONGPASS/);
      });

      await t.step(
        "a key that is not the certificate's, or a missing file, stops opening with the field named",
        async () => {
          await assert.rejects(
            openStore(options({ key_file: join(certs.dir, "other.key") })),
            new RegExp(
              `Cannot use storage\\.key_file .*other\\.key: it is not the key of storage\\.cert_file`,
            ),
          );
          await assert.rejects(
            openStore(options({ ca_file: join(certs.dir, "missing.crt") })),
            /Cannot read storage\.ca_file .*missing\.crt: file not found/,
          );
          await assert.rejects(
            openStore(options({ ca_file: certs.clientKey })),
            /Cannot use storage\.ca_file .*client\.key: it holds no PEM certificate/,
          );
        },
      );
    } finally {
      await redis.stop();
      await Deno.remove(certs.dir, { recursive: true });
    }
  },
);
