/** Small HTTP helpers for end-to-end tests. */

/** Awaits a response and returns its status, discarding the body so no resource leaks. */
export async function statusOf(response: Promise<Response>): Promise<number> {
  const res = await response;
  await res.body?.cancel();
  return res.status;
}
