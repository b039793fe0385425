/**
 * A seeded random source for fuzz tests (mulberry32): the same seed gives the same run, and every
 * bit is random enough to choose among a few values. (A linear congruential generator taken modulo
 * a small number cycles through its low bits: a fuzz test using it kept trying the same few edits.)
 */
export function seededRandom(seed: number): (n: number) => number {
  return (n) => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * n);
  };
}
