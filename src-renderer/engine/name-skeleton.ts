/**
 * Display names compared as a person reads them, not as code points: "Bob", "bob", "Bob\u200b",
 * "Воb" (Cyrillic В and о) and "B⠀ob"-style blanks all read as one name, so trust on first use must
 * treat them as one (see trust-book.ts).
 *
 * The skeleton is Unicode TR39's (§4): NFD, every character replaced by its prototype from the
 * confusables data, NFD again — here NFKD, so that compatibility forms (fullwidth "Ｂｏｂ",
 * mathematical letters) fold too. The data is Unicode's `confusables.txt`, as the `unhomoglyph`
 * package ships it (MIT, no code of its own we run: we read its table). Added for names: invisible
 * characters are removed first (default-ignorables such as U+200B and U+2060, format and control
 * characters, and blanks that are not default-ignorable such as U+2800), runs of spaces become one,
 * and case is folded. Case is folded both after mapping ("Воb" → "Bob" → "bob") and before it
 * ("Ian" → "ian", where mapping first would give "lan"): two names look alike when either skeleton
 * matches. Accents are kept, as in TR39: "René" and "Rene" are different names.
 */
import confusables from 'unhomoglyph/data.json';

const PROTOTYPES: Readonly<Record<string, string>> = confusables;

/** Characters that show as nothing: default-ignorables, format and control characters, and blanks. */
const INVISIBLE = /[\p{Default_Ignorable_Code_Point}\p{Cf}\p{Cc}\u2800\u115F\u1160\u3164\uFFA0]/gu;

function prototypes(text: string): string {
  let out = '';
  for (const ch of text) out += PROTOTYPES[ch] ?? ch;
  return out;
}

function clean(text: string): string {
  return text.normalize('NFKD').replace(INVISIBLE, '');
}

function finish(text: string): string {
  return clean(text).replace(/\s+/gu, ' ').trim();
}

/** The name's TR39 skeleton, invisibles removed and case folded after mapping. */
export function nameSkeleton(name: string): string {
  return finish(prototypes(clean(name)).toLowerCase());
}

/** The same with case folded before mapping too (see the module comment). */
function foldedSkeleton(name: string): string {
  return finish(prototypes(clean(name).toLowerCase()).toLowerCase());
}

/** Both skeletons of a name, remembered: a trust book compares one name with every pinned one. */
const skeletons = new Map<string, readonly [string, string]>();
function skeletonsOf(name: string): readonly [string, string] {
  let found = skeletons.get(name);
  if (!found) {
    if (skeletons.size >= 10_000) skeletons.clear();
    skeletons.set(name, (found = [nameSkeleton(name), foldedSkeleton(name)]));
  }
  return found;
}

/** Whether two display names read as the same name. */
export function namesLookAlike(a: string, b: string): boolean {
  const [x, y] = [skeletonsOf(a), skeletonsOf(b)];
  return x[0] === y[0] || x[1] === y[1];
}
