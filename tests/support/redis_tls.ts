/**
 * A TLS-only test Redis: a throw-away CA, server and client certificates made with `openssl`, and a
 * `redis-server` that speaks only TLS 1.3, checks client certificates and has one ACL user.
 */
import { join } from "node:path";
import { freePort } from "./free_port.ts";
import { redisCli, startRedis, type TestRedis } from "./redis_server.ts";

/** PEM files made for one test run. */
export interface TestCertificates {
  dir: string;
  /** The CA that signed the server and client certificates. */
  caFile: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A CA that signed nothing here (for a server the client must not trust). */
  otherCaFile: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd, stdin: "null" }).output();
  if (!out.success) {
    throw new Error(`openssl ${args.join(" ")} failed:\n${new TextDecoder().decode(out.stderr)}`);
  }
}

/** Makes a CA, a server certificate for 127.0.0.1 and a client certificate in a temporary folder. */
export async function makeTestCertificates(): Promise<TestCertificates> {
  const dir = await Deno.makeTempDir({ prefix: "portcullis-tls-" });
  // fresh 2048-bit RSA keys, valid two days; the CAs sign themselves, the server and client are signed by "ca"
  const request = (name: string, out: string) =>
    `req -newkey rsa:2048 -nodes -keyout ${name}.key -out ${out}`;
  for (const [name, subject] of [["ca", "/CN=Portcullis test CA"], ["other", "/CN=Another CA"]]) {
    await openssl([...`${request(name, `${name}.crt`)} -x509 -days 2 -subj`.split(" "), subject], dir);
  }
  await Deno.writeTextFile(join(dir, "server.ext"), "subjectAltName=IP:127.0.0.1\n");
  for (const [name, ext] of [["server", " -extfile server.ext"], ["client", ""]]) {
    await openssl(`${request(name, `${name}.csr`)} -subj /CN=${name}`.split(" "), dir);
    const sign =
      `x509 -req -in ${name}.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out ${name}.crt -days 2`;
    await openssl(`${sign}${ext}`.split(" "), dir);
  }
  return {
    dir,
    caFile: join(dir, "ca.crt"),
    serverCert: join(dir, "server.crt"),
    serverKey: join(dir, "server.key"),
    clientCert: join(dir, "client.crt"),
    clientKey: join(dir, "client.key"),
    otherCaFile: join(dir, "other.crt"),
  };
}

/** The ACL user of the TLS test server. */
export const TLS_USER = { username: "gateway", password: "gateway-secret" };

/** A running TLS-only test Redis. */
export interface TestTlsRedis extends TestRedis {
  /** `redis-cli` against it, as the ACL user with the client certificate. */
  cli(args: string[]): Promise<string>;
}

/**
 * Starts `redis-server` with only a TLS port (TLS 1.3 only, client certificates required) whose default user is
 * off, so only {@link TLS_USER} gets in.
 */
export async function startTlsRedis(certs: TestCertificates): Promise<TestTlsRedis> {
  const port = freePort();
  const server = await startRedis({
    port,
    noPortArg: true,
    args: [
      "--port",
      "0",
      "--tls-port",
      String(port),
      "--tls-cert-file",
      certs.serverCert,
      "--tls-key-file",
      certs.serverKey,
      "--tls-ca-cert-file",
      certs.caFile,
      "--tls-auth-clients",
      "yes",
      "--tls-protocols",
      "TLSv1.3",
      "--user",
      "default",
      "off",
      "--user",
      TLS_USER.username,
      "on",
      `>${TLS_USER.password}`,
      "~*",
      "&*",
      "+@all",
    ],
  });
  const tlsCli = [
    "--tls",
    "--cacert",
    certs.caFile,
    "--cert",
    certs.clientCert,
    "--key",
    certs.clientKey,
    "--user",
    TLS_USER.username,
    "--pass",
    TLS_USER.password,
    "--no-auth-warning",
  ];
  return { ...server, cli: (args) => redisCli(port, args, tlsCli) };
}
