import { describe, expect, it } from 'vitest';
import { TrustBook, type TrustStorage } from '../../../src-renderer/engine/trust-book';
import { safetyCode } from '../../../src-shared/identity';
import { nameSkeleton, namesLookAlike } from '../../../src-renderer/engine/name-skeleton';
import type { TrustRecord } from '../../../src-shared/ipc';

function memoryStorage(initial: TrustRecord[] = []): TrustStorage & { saved: TrustRecord[] } {
  const storage = {
    saved: initial,
    load: async () => storage.saved,
    save: async (records: TrustRecord[]) => void (storage.saved = records),
  };
  return storage;
}
const key = (fill: number) => new Uint8Array(32).fill(fill);

describe('trust on first use', () => {
  it('pins a new console and knows it afterwards, across restarts', async () => {
    const storage = memoryStorage();
    const book = new TrustBook(storage);
    await book.load();
    expect(book.assess('bob1', 'Bob', key(1))).toEqual({ kind: 'new' });
    book.pin('bob1', 'Bob', key(1));
    await book.flush();
    const again = new TrustBook(storage);
    await again.load();
    expect(again.assess('bob1', 'Bob', key(1))).toEqual({ kind: 'known', verified: false });
  });

  it('a known display name with a new key is a conflict until the user decides', async () => {
    const book = new TrustBook(memoryStorage());
    await book.load();
    book.pin('bob1', 'Bob', key(1));
    const status = book.assess('bob2', 'Bob', key(2));
    expect(status.kind).toBe('conflict');
    expect(status.kind === 'conflict' && status.previous.peerId).toBe('bob1');
    // Accepting pins the new key and retires the old one for that name.
    book.accept('bob2', 'Bob', key(2));
    expect(book.assess('bob2', 'Bob', key(2)).kind).toBe('known');
    expect(book.get('bob1')?.replacedBy).toBe('bob2');
    expect(book.assess('bob3', 'Bob', key(3)).kind).toBe('conflict');
  });

  it('a rejected console stays rejected, and other names are not affected', async () => {
    const storage = memoryStorage();
    const book = new TrustBook(storage);
    await book.load();
    book.pin('bob1', 'Bob', key(1));
    book.reject('bob2', 'Bob', key(2));
    await book.flush();
    const again = new TrustBook(storage);
    await again.load();
    expect(again.assess('bob2', 'Bob', key(2))).toEqual({ kind: 'rejected' });
    expect(again.assess('carol', 'Carol', key(4))).toEqual({ kind: 'new' });
  });

  it('the verified mark persists and is reported', async () => {
    const storage = memoryStorage();
    const book = new TrustBook(storage);
    await book.load();
    book.pin('bob1', 'Bob', key(1));
    book.setVerified('bob1', true);
    await book.flush();
    const again = new TrustBook(storage);
    await again.load();
    expect(again.assess('bob1', 'Bob', key(1))).toEqual({ kind: 'known', verified: true });
  });
});

describe('names compared as they read (TR39 confusable skeleton)', () => {
  it('case, invisible characters, blanks, look-alike letters of other scripts and compatibility forms read as one name', () => {
    for (const alike of ['Bob', 'bob', 'BOB', 'Bob\u200b', 'B\u2060ob', 'Bob\u00ad', 'Bo\u2800b', 'Bob\u202e', '\u0412\u043eb', '\u0392ob', 'B0b', ' Bob ', '\uff22\uff4f\uff42', 'B\u{1d5c8}b']) {
      expect(namesLookAlike(alike, 'Bob'), JSON.stringify(alike)).toBe(true);
    }
    expect(nameSkeleton('\u0412\u043eb')).toBe('bob'); // Cyrillic В and о, Latin b
    expect(namesLookAlike('Ian', 'lan')).toBe(true); // capital I and small L
    expect(namesLookAlike('Ian', 'ian')).toBe(true);
    expect(namesLookAlike('Ada Lovelace', 'Ada  Lovelace')).toBe(true);
  });

  it('different names stay different (accents count, as in TR39)', () => {
    for (const other of ['Carol', 'Bobby', 'B ob', 'Rob', 'Bób', '']) expect(namesLookAlike(other, 'Bob'), JSON.stringify(other)).toBe(false);
    expect(namesLookAlike('René', 'Rene')).toBe(false);
  });
});

describe('trust on first use with names that read alike', () => {
  it('a new key whose name reads like a pinned one is a conflict: case, invisibles, Cyrillic, blanks', async () => {
    const book = new TrustBook(memoryStorage());
    await book.load();
    book.pin('bob1', 'Bob', key(1));
    for (const [i, name] of ['bob', 'Bob\u200b', '\u0412\u043eb', 'Bo\u2800b'].entries()) {
      const status = book.assess(`x${i}`, name, key(10 + i));
      expect(status.kind, JSON.stringify(name)).toBe('conflict');
      expect(status.kind === 'conflict' && status.previous.peerId).toBe('bob1');
    }
    expect(book.assess('carol', 'Carol', key(4))).toEqual({ kind: 'new' });
  });

  it('a known console renaming itself to a pinned teammate’s name is a conflict; other renames are not', async () => {
    const storage = memoryStorage();
    const book = new TrustBook(storage);
    await book.load();
    book.pin('bob1', 'Bob', key(1));
    book.pin('carol', 'Carol', key(3));
    expect(book.assess('carol', 'Bob', key(3))).toMatchObject({ kind: 'conflict', previous: { peerId: 'bob1' }, renamedFrom: 'Carol' });
    expect(book.assess('carol', 'b\u043eb', key(3)).kind).toBe('conflict');
    // Its own name in another case, or a name nobody pinned, is no conflict (and is kept as its name).
    expect(book.assess('carol', 'CAROL', key(3))).toEqual({ kind: 'known', verified: false });
    expect(book.assess('carol', 'Caroline', key(3))).toEqual({ kind: 'known', verified: false });
    book.pin('carol', 'Caroline', key(3));
    await book.flush();
    expect(storage.saved.find((r) => r.peerId === 'carol')?.displayName).toBe('Caroline');
    // Bob renaming to a variant of his own name is no conflict either.
    expect(book.assess('bob1', 'bob', key(1)).kind).toBe('known');
  });

  it('accepting a rename pins the name for that key and retires the other holder’s claim to it', async () => {
    const book = new TrustBook(memoryStorage());
    await book.load();
    book.pin('bob1', 'Bob', key(1));
    book.pin('carol', 'Carol', key(3));
    book.accept('carol', 'Bob', key(3));
    expect(book.assess('carol', 'Bob', key(3)).kind).toBe('known');
    expect(book.get('bob1')?.replacedBy).toBe('carol');
    expect(book.assess('bob1', 'Bob', key(1)).kind).toBe('known'); // still a known key
    expect(book.assess('eve', 'BOB', key(5)).kind).toBe('conflict');
  });
});

describe('safety codes', () => {
  it('are the same on both sides, 4 groups of 5 digits, and differ for another pair', () => {
    const code = safetyCode(key(1), key(2));
    expect(code).toMatch(/^\d{5} \d{5} \d{5} \d{5}$/);
    expect(safetyCode(key(2), key(1))).toBe(code);
    expect(safetyCode(key(1), key(3))).not.toBe(code);
  });
});
