/** Why an upstream request failed: the proxy turns each kind into Tyk's status and message. */
export class UpstreamError extends Error {
  override name = "UpstreamError";
  constructor(
    readonly kind: "timeout" | "dns" | "connect" | "aborted",
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
