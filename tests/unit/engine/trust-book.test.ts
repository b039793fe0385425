import { describe, expect, it } from 'vitest';
import { TrustBook, type TrustStorage } from '../../../src-renderer/engine/trust-book';
import { safetyCode } from '../../../src-shared/identity';
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

describe('safety codes', () => {
  it('are the same on both sides, 4 groups of 5 digits, and differ for another pair', () => {
    const code = safetyCode(key(1), key(2));
    expect(code).toMatch(/^\d{5} \d{5} \d{5} \d{5}$/);
    expect(safetyCode(key(2), key(1))).toBe(code);
    expect(safetyCode(key(1), key(3))).not.toBe(code);
  });
});
