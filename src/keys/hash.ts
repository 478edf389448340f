/**
 * Tyk's key hashing (`internal/crypto/hash.go`), bit-exact so Redis records are shared with Tyk gateways.
 * Everything here is synchronous: it runs on the request path.
 */
import { createHash } from "node:crypto";
import { b64JsonField } from "./_b64_json.ts";

/** The algorithms a `hash_key_function` may name. */
export const HASH_ALGORITHMS = ["sha256", "murmur32", "murmur64", "murmur128"] as const;

/** One of {@link HASH_ALGORITHMS}. */
export type HashAlgorithm = typeof HASH_ALGORITHMS[number];

const ENCODER = new TextEncoder();

function hex32(n: number): string {
  return (n >>> 0).toString(16).padStart(8, "0");
}

function rotl32(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

/**
 * Tyk's legacy murmur32: the MurmurHash3 x86_32 block loop only (seed 0). Trailing 1–3 bytes, the length and
 * the final mix are skipped, so `"hello"` and `"hell"` collide (Tyk issue #1309); kept because stored hashes use it.
 */
export function murmur32Legacy(s: string): string {
  const bytes = ENCODER.encode(s);
  const blocks = bytes.length >>> 2;
  let h = 0;
  for (let i = 0; i < blocks; i++) {
    const o = i << 2;
    let k = bytes[o] | (bytes[o + 1] << 8) | (bytes[o + 2] << 16) | (bytes[o + 3] << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = rotl32(k, 15);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = rotl32(h, 13);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  return hex32(h);
}

// 64-bit lanes are (hi, lo) pairs of unsigned 32-bit numbers: BigInt would allocate on every step.
let rHi = 0;
let rLo = 0;

/** (aHi:aLo × bHi:bLo) mod 2^64 into rHi:rLo. */
function mul64(aHi: number, aLo: number, bHi: number, bLo: number): void {
  const a0 = aLo & 0xffff, a1 = aLo >>> 16, b0 = bLo & 0xffff, b1 = bLo >>> 16;
  const p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  rLo = (((mid & 0xffff) << 16) | (p00 & 0xffff)) >>> 0;
  const carry = p11 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16);
  rHi = (carry + Math.imul(aHi, bLo) + Math.imul(aLo, bHi)) >>> 0;
}

function add64(aHi: number, aLo: number, bHi: number, bLo: number): void {
  const lo = aLo + bLo;
  rLo = lo >>> 0;
  rHi = (aHi + bHi + (lo > 0xffffffff ? 1 : 0)) >>> 0;
}

/** Rotates left by r (0 < r < 32). */
function rotl64(hi: number, lo: number, r: number): void {
  rHi = ((hi << r) | (lo >>> (32 - r))) >>> 0;
  rLo = ((lo << r) | (hi >>> (32 - r))) >>> 0;
}

function fmix64(hi: number, lo: number): void {
  lo = (lo ^ (hi >>> 1)) >>> 0;
  mul64(hi, lo, 0xff51afd7, 0xed558ccd);
  hi = rHi;
  lo = (rLo ^ (rHi >>> 1)) >>> 0;
  mul64(hi, lo, 0xc4ceb9fe, 0x1a85ec53);
  rLo = (rLo ^ (rHi >>> 1)) >>> 0;
}

function readLe32(bytes: Uint8Array, o: number): number {
  return (bytes[o] | (bytes[o + 1] << 8) | (bytes[o + 2] << 16) | (bytes[o + 3] << 24)) >>> 0;
}

/** MurmurHash3 x64_128 (seed 0) of the UTF-8 bytes: h1 and h2 as 16 hex chars each, big-endian. */
function murmurX64(s: string): [string, string] {
  const bytes = ENCODER.encode(s);
  const len = bytes.length;
  const blocks = len >>> 4;
  let h1Hi = 0, h1Lo = 0, h2Hi = 0, h2Lo = 0;
  let k1Hi: number, k1Lo: number, k2Hi: number, k2Lo: number;

  const mixK1 = () => {
    mul64(k1Hi, k1Lo, 0x87c37b91, 0x114253d5);
    rotl64(rHi, rLo, 31);
    mul64(rHi, rLo, 0x4cf5ad43, 0x2745937f);
    h1Hi = (h1Hi ^ rHi) >>> 0;
    h1Lo = (h1Lo ^ rLo) >>> 0;
  };
  const mixK2 = () => {
    mul64(k2Hi, k2Lo, 0x4cf5ad43, 0x2745937f);
    rotl64(rLo, rHi, 1); // rotl 33 = swap halves, then rotl 1
    mul64(rHi, rLo, 0x87c37b91, 0x114253d5);
    h2Hi = (h2Hi ^ rHi) >>> 0;
    h2Lo = (h2Lo ^ rLo) >>> 0;
  };

  for (let i = 0; i < blocks; i++) {
    const o = i << 4;
    k1Lo = readLe32(bytes, o);
    k1Hi = readLe32(bytes, o + 4);
    k2Lo = readLe32(bytes, o + 8);
    k2Hi = readLe32(bytes, o + 12);
    mixK1();
    rotl64(h1Hi, h1Lo, 27);
    add64(rHi, rLo, h2Hi, h2Lo);
    mul64(rHi, rLo, 0, 5);
    add64(rHi, rLo, 0, 0x52dce729);
    h1Hi = rHi;
    h1Lo = rLo;
    mixK2();
    rotl64(h2Hi, h2Lo, 31);
    add64(rHi, rLo, h1Hi, h1Lo);
    mul64(rHi, rLo, 0, 5);
    add64(rHi, rLo, 0, 0x38495ab5);
    h2Hi = rHi;
    h2Lo = rLo;
  }

  const rest = len & 15;
  if (rest > 0) {
    // The tail read as a zero-padded block gives the same lanes as the reference switch fall-through.
    const tail = new Uint8Array(16);
    tail.set(bytes.subarray(blocks << 4));
    k1Lo = readLe32(tail, 0);
    k1Hi = readLe32(tail, 4);
    k2Lo = readLe32(tail, 8);
    k2Hi = readLe32(tail, 12);
    if (rest > 8) mixK2();
    mixK1();
  }

  // The length fits in 32 bits, so only the low words change.
  h1Lo = (h1Lo ^ len) >>> 0;
  h2Lo = (h2Lo ^ len) >>> 0;
  add64(h1Hi, h1Lo, h2Hi, h2Lo);
  h1Hi = rHi;
  h1Lo = rLo;
  add64(h2Hi, h2Lo, h1Hi, h1Lo);
  h2Hi = rHi;
  h2Lo = rLo;
  fmix64(h1Hi, h1Lo);
  h1Hi = rHi;
  h1Lo = rLo;
  fmix64(h2Hi, h2Lo);
  h2Hi = rHi;
  h2Lo = rLo;
  add64(h1Hi, h1Lo, h2Hi, h2Lo);
  h1Hi = rHi;
  h1Lo = rLo;
  add64(h2Hi, h2Lo, h1Hi, h1Lo);
  return [hex32(h1Hi) + hex32(h1Lo), hex32(rHi) + hex32(rLo)];
}

/** Tyk's `murmur64`: the first 64-bit word of MurmurHash3 x64_128, 16 hex chars. */
export function murmur64(s: string): string {
  return murmurX64(s)[0];
}

/** Tyk's `murmur128`: both 64-bit words of MurmurHash3 x64_128, 32 hex chars. */
export function murmur128(s: string): string {
  const [h1, h2] = murmurX64(s);
  return h1 + h2;
}

/** Hex SHA-256 of the UTF-8 bytes (64 chars). */
export function sha256Hex(s: string): string {
  return createHash("sha256").update(s).digest("hex");
}

/** True when `name` is one of {@link HASH_ALGORITHMS}. */
export function isHashAlgorithm(name: string): name is HashAlgorithm {
  return (HASH_ALGORITHMS as readonly string[]).includes(name);
}

/**
 * Tyk's `HashStr`: hashes with the algorithm named in the `h` field of a base64-JSON token, else with the
 * legacy murmur32. An unknown `h` also falls back to murmur32, as Tyk does (it only logs an error).
 */
export function hashStr(s: string): string {
  switch (b64JsonField(s, "h")) {
    case "sha256":
      return sha256Hex(s);
    case "murmur64":
      return murmur64(s);
    case "murmur128":
      return murmur128(s);
    default:
      return murmur32Legacy(s);
  }
}

/** Tyk's `HashKey`: {@link hashStr} when `hash_keys` is on, else the key itself. */
export function hashKey(s: string, enabled: boolean): string {
  return enabled ? hashStr(s) : s;
}
