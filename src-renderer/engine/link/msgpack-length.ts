/**
 * How long a MessagePack value is, read from its first bytes only: the reliable stream's receiver
 * asks it on the first frame of a large message, so that it can put every chunk straight into one
 * buffer of the right size instead of concatenating tens of megabytes once the last chunk is in.
 *
 * Headers are walked, and the contents of bin, str and ext skipped by their stated lengths. When
 * the prefix runs out inside a bin or str (a large payload, the usual case) the answer is exact if
 * nothing follows it and a lower bound otherwise (each value still to come takes at least a byte).
 * Only a hint: a wrong answer costs the receiver a copy, never correctness.
 */

/** Bytes of header (after the type byte) giving a length, by type byte; for the types below. */
const LENGTH_BYTES: Record<number, 1 | 2 | 4> = {
  0xc4: 1, 0xc5: 2, 0xc6: 4, // bin 8/16/32
  0xc7: 1, 0xc8: 2, 0xc9: 4, // ext 8/16/32 (plus one type byte)
  0xd9: 1, 0xda: 2, 0xdb: 4, // str 8/16/32
  0xdc: 2, 0xdd: 4, // array 16/32
  0xde: 2, 0xdf: 4, // map 16/32
};

/** Fixed sizes (type byte included) of the types without a length. */
function fixedSize(type: number): number | undefined {
  if (type <= 0x7f || type >= 0xe0 || type === 0xc0 || type === 0xc2 || type === 0xc3) return 1;
  if (type === 0xcc || type === 0xd0) return 2;
  if (type === 0xcd || type === 0xd1) return 3;
  if (type === 0xca || type === 0xce || type === 0xd2) return 5;
  if (type === 0xcb || type === 0xcf || type === 0xd3) return 9;
  if (type >= 0xd4 && type <= 0xd8) return 2 + (1 << (type - 0xd4)); // fixext 1/2/4/8/16
  return undefined;
}

/**
 * The length in bytes of the one MessagePack value that `prefix` starts (exact, or at least that
 * much; see above), or undefined when the prefix ends within a header or is not MessagePack.
 */
export function msgpackLengthAtLeast(prefix: Uint8Array): number | undefined {
  let pos = 0;
  let pending = 1; // values still to walk
  while (pending > 0) {
    if (pos >= prefix.length) return pos + pending;
    const type = prefix[pos]!;
    pending -= 1;
    const fixed = fixedSize(type);
    if (fixed !== undefined) {
      pos += fixed;
      continue;
    }
    if (type >= 0x80 && type <= 0x8f) {
      pending += 2 * (type & 0x0f);
      pos += 1;
      continue;
    }
    if (type >= 0x90 && type <= 0x9f) {
      pending += type & 0x0f;
      pos += 1;
      continue;
    }
    if (type >= 0xa0 && type <= 0xbf) {
      pos += 1 + (type & 0x1f);
      continue;
    }
    const width = LENGTH_BYTES[type];
    if (width === undefined) return undefined; // 0xc1: never used
    if (pos + 1 + width > prefix.length) return undefined;
    let n = 0;
    for (let i = 1; i <= width; i++) n = n * 256 + prefix[pos + i]!;
    pos += 1 + width;
    if (type === 0xdc || type === 0xdd) pending += n;
    else if (type === 0xde || type === 0xdf) pending += 2 * n;
    else pos += n + (type >= 0xc7 && type <= 0xc9 ? 1 : 0);
  }
  return pos;
}
