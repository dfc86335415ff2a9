/**
 * Seeded randomness for synthetic data: a fast PRNG (sfc32), independent streams keyed by
 * integers, and deterministic v4-shaped UUIDs.
 *
 * Every entity draws from its own stream (`rngFor(seed, Stream.x, index)`), never from one
 * shared sequence: a table generator can then be re-run for another table, or a rule for one
 * entity changed, without shifting every value generated after it.
 */

/** Stream keys: one per kind of entity, so two kinds never share a sequence. */
export const Stream = {
  world: 1,
  school: 2,
  calendar: 3,
  student: 4,
  family: 5,
  guardian: 6,
  staff: 7,
  roster: 8,
  classEnrollment: 9,
  attendance: 10,
  assignment: 11,
  score: 12,
  lead: 13,
  esa: 14,
  account: 15,
  ids: 16,
  course: 17,
  demo: 18,
} as const;

/** murmur3's finaliser: a cheap 32-bit mix with full avalanche. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hashes a list of integers (each taken mod 2^32) into 32 bits. */
export function hash32(...keys: number[]): number {
  let h = 0x9e3779b9;
  for (const k of keys) {
    h = fmix((h ^ fmix((k >>> 0) + 0x7f4a7c15)) + 0x165667b1);
  }
  return h;
}

/** A uniform float in [0, 1) from a hash of the keys, for one-off draws without a stream. */
export function hashFloat(...keys: number[]): number {
  return hash32(...keys) / 4294967296;
}

/** sfc32 (Chris Doty-Humphrey): small state, fast in JS, passes PractRand at this scale. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spare: number | null = null;

  constructor(a: number, b: number, c: number, d: number) {
    this.a = a | 0;
    this.b = b | 0;
    this.c = c | 0;
    this.d = d | 0;
    // The first outputs of a freshly keyed sfc32 are correlated with the key: discard them.
    for (let i = 0; i < 12; i++) this.next();
  }

  /** A uniform 32-bit unsigned integer. */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** A uniform float in [0, 1). */
  float(): number {
    return this.next() / 4294967296;
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** A uniform integer in [lo, hi], both inclusive. */
  between(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }

  /** A uniform float in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + this.float() * (hi - lo);
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.float() * items.length)]!;
  }

  /** Index drawn with the given (unnormalised) weights. */
  weighted(weights: readonly number[]): number {
    let total = 0;
    for (const w of weights) total += w;
    let x = this.float() * total;
    for (let i = 0; i < weights.length; i++) {
      x -= weights[i]!;
      if (x < 0) return i;
    }
    return weights.length - 1;
  }

  /** Normal deviate (Box–Muller, caching the second value). */
  normal(mean = 0, sd = 1): number {
    if (this.spare !== null) {
      const z = this.spare;
      this.spare = null;
      return mean + sd * z;
    }
    let u = 0;
    while (u === 0) u = this.float();
    const v = this.float();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return mean + sd * r * Math.cos(2 * Math.PI * v);
  }

  /** Exponential deviate with the given mean. */
  exponential(mean: number): number {
    return -mean * Math.log(1 - this.float());
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.float() * (i + 1));
      const tmp = items[i]!;
      items[i] = items[j]!;
      items[j] = tmp;
    }
    return items;
  }

  /** A random v4-shaped UUID from this stream. */
  uuid(): string {
    return formatUuid(this.next(), this.next(), this.next(), this.next());
  }
}

/** An independent stream for one entity: the same keys always give the same sequence. */
export function rngFor(seed: number, ...keys: number[]): Rng {
  const base = hash32(seed, ...keys);
  return new Rng(base, hash32(base, 1), hash32(base, 2), hash32(base, 3));
}

const HEX_CODES = Uint8Array.from('0123456789abcdef', (c) => c.charCodeAt(0));
const UUID_BYTES = new Uint8Array(36).fill(0x2d); // '-' stays at 8, 13, 18 and 23
const LATIN1 = new TextDecoder('latin1');

function putHex(word: number, digits: number, at: number): number {
  for (let shift = (digits - 1) * 4; shift >= 0; shift -= 4) {
    UUID_BYTES[at++] = HEX_CODES[(word >>> shift) & 15]!;
  }
  return at;
}

/**
 * Lays 122 bits of four words out as a version-4, RFC 4122-variant UUID. Decoding one byte
 * buffer yields a flat string; `+`-concatenation would leave a rope of ten pieces behind
 * every id, a third of the in-memory network's heap.
 */
function formatUuid(w0: number, w1: number, w2: number, w3: number): string {
  let at = putHex(w0, 8, 0) + 1;
  at = putHex(w1 >>> 16, 4, at) + 1;
  UUID_BYTES[at++] = 0x34; // version 4
  at = putHex(w1, 3, at) + 1;
  UUID_BYTES[at++] = HEX_CODES[8 | (w2 >>> 30)]!; // variant 10xx
  at = putHex(w2 >>> 16, 3, at) + 1;
  at = putHex(w2, 4, at);
  putHex(w3, 8, at);
  return LATIN1.decode(UUID_BYTES);
}

/**
 * Deterministic v4-shaped ids for one table, in ascending order of `ordinal`.
 *
 * The first 32 bits place ordinal k at (k + jitter) / capacity of the id space, the other
 * 90 are hashed from (seed, table, ordinal). A table whose rows are written in ordinal order
 * therefore appends to its primary-key btree instead of splitting random pages: on the
 * multi-million-row tables that more than halves the cost of the COPY. Ids still spread over
 * the whole space and cannot be guessed from a neighbour. Past `capacity` the prefix wraps;
 * ids stay unique (90 hashed bits) but lose their order, so capacities are upper bounds.
 */
export class IdSpace {
  private readonly stride: number;
  private readonly salt: number;

  constructor(seed: number, table: number, capacity: number) {
    this.stride = 4294967296 / Math.max(1, capacity);
    this.salt = hash32(seed, Stream.ids, table);
  }

  /** The id of the row with this ordinal. */
  at(ordinal: number): string {
    const h1 = hash32(this.salt, ordinal);
    const h2 = fmix(h1 ^ 0x2545f491);
    const h3 = fmix(h2 ^ 0x68e31da4);
    const h4 = fmix(h3 ^ 0x1b56c4e9);
    const jitter = (h4 >>> 8) / 16777216; // [0, 1): where inside its slot this id falls
    const prefix = Math.floor((ordinal + jitter) * this.stride) >>> 0;
    return formatUuid(prefix, h2, h3, h1 ^ h4);
  }
}

/** A counter over an IdSpace, for tables whose rows are generated and written in order. */
export class IdSequence {
  private n = 0;
  constructor(private readonly space: IdSpace) {}

  next(): string {
    return this.space.at(this.n++);
  }

  get count(): number {
    return this.n;
  }
}
