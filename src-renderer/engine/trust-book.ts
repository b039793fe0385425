/**
 * Trust on first use. The first key seen for a console is pinned and kept; peers can be marked
 * verified once two people have compared fingerprints or safety codes. A peer_id is derived from
 * its key, so the key of a known peer_id cannot change; what can happen is a console that uses a
 * display name a pinned console already has: a *new* console (someone reinstalled, or someone
 * impersonates them), or a *known* one renaming itself to a pinned teammate's name. Either is held
 * back — no link — until the user accepts or rejects it.
 *
 * Names are compared as they read, not as code points (name-skeleton.ts): "Bob", "bob", "Bob" with
 * a zero-width space and "Воb" in Cyrillic are one name here.
 */
import { toBase64Url } from '../../src-shared/bytes';
import type { TrustRecord } from '../../src-shared/ipc';
import { namesLookAlike } from './name-skeleton';

export type TrustStatus =
  | { kind: 'new' }
  | { kind: 'known'; verified: boolean }
  /** `previous` holds a name that reads like this one; `renamedFrom`: a known console's name before. */
  | { kind: 'conflict'; previous: TrustRecord; renamedFrom?: string }
  | { kind: 'rejected' };

export interface TrustStorage {
  load(): Promise<TrustRecord[]>;
  save(records: TrustRecord[]): Promise<void>;
}

export class TrustBook {
  private records = new Map<string, TrustRecord>();
  private saving: Promise<void> = Promise.resolve();

  constructor(private readonly storage: TrustStorage) {}

  async load(): Promise<void> {
    this.records = new Map((await this.storage.load()).map((r) => [r.peerId, r]));
  }

  /** What we know of this console, without changing anything. */
  assess(peerId: string, displayName: string, signingKey: Uint8Array): TrustStatus {
    const record = this.records.get(peerId);
    if (record?.decision === 'rejected') return { kind: 'rejected' };
    const holder = this.holderOf(displayName, peerId, toBase64Url(signingKey));
    if (record) {
      // A rename to a name that reads like a pinned teammate's (and not like its own before).
      if (holder && !namesLookAlike(displayName, record.displayName)) return { kind: 'conflict', previous: holder, renamedFrom: record.displayName };
      return { kind: 'known', verified: record.verified };
    }
    return holder ? { kind: 'conflict', previous: holder } : { kind: 'new' };
  }

  /** Pins a console seen for the first time, or keeps the current name of a known one. */
  pin(peerId: string, displayName: string, signingKey: Uint8Array): void {
    const existing = this.records.get(peerId);
    if (existing?.displayName === displayName) return;
    this.put({ ...(existing ?? { peerId, signingKey: toBase64Url(signingKey), firstSeen: Date.now(), verified: false }), displayName });
  }

  /**
   * The user accepts a console that took a known display name (a new key, or a known console's
   * rename): it is pinned under that name, and the console that held the name is retired from it.
   */
  accept(peerId: string, displayName: string, signingKey: Uint8Array): void {
    for (const r of this.records.values()) {
      if (r.peerId !== peerId && !r.replacedBy && namesLookAlike(r.displayName, displayName)) this.put({ ...r, replacedBy: peerId });
    }
    const existing = this.records.get(peerId);
    this.put({ peerId, displayName, signingKey: toBase64Url(signingKey), firstSeen: existing?.firstSeen ?? Date.now(), verified: existing?.verified ?? false, decision: 'accepted' });
  }

  reject(peerId: string, displayName: string, signingKey: Uint8Array): void {
    this.put({ peerId, displayName, signingKey: toBase64Url(signingKey), firstSeen: Date.now(), verified: false, decision: 'rejected' });
  }

  setVerified(peerId: string, verified: boolean): void {
    const record = this.records.get(peerId);
    if (record) this.put({ ...record, verified });
  }

  get(peerId: string): TrustRecord | undefined {
    return this.records.get(peerId);
  }

  /** Resolves when every change so far is saved. */
  flush(): Promise<void> {
    return this.saving;
  }

  /** The pinned console, other than this one, whose name reads like `displayName`. */
  private holderOf(displayName: string, peerId: string, key: string): TrustRecord | undefined {
    for (const r of this.records.values()) {
      if (r.peerId !== peerId && r.signingKey !== key && r.decision !== 'rejected' && !r.replacedBy && namesLookAlike(r.displayName, displayName)) return r;
    }
    return undefined;
  }

  private put(record: TrustRecord): void {
    this.records.set(record.peerId, record);
    const snapshot = [...this.records.values()];
    this.saving = this.saving.then(() => this.storage.save(snapshot)).catch(() => undefined);
  }
}
