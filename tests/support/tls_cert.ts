/** A throw-away self-signed certificate for TLS tests, made with openssl. */

/**
 * Writes `cert.pem` and `key.pem` for CN=localhost and IP 127.0.0.1 into `dir` and returns their text.
 * @throws Error when openssl fails
 */
export async function makeSelfSignedCert(dir: string): Promise<{ cert: string; key: string }> {
  const made = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-keyout",
      `${dir}/key.pem`,
      "-out",
      `${dir}/cert.pem`,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!made.success) throw new Error(`openssl failed: ${new TextDecoder().decode(made.stderr)}`);
  return { cert: await Deno.readTextFile(`${dir}/cert.pem`), key: await Deno.readTextFile(`${dir}/key.pem`) };
}
