/**
 * Trust on first use. The first key seen for a console is pinned and kept; peers can be marked
 * verified once two people have compared fingerprints or safety codes. A peer_id is derived from
 * its key, so the key of a known peer_id cannot change; what can happen is a *new* console that
 * uses a display name a pinned console already had: someone reinstalled, or someone impersonates
 * them. That is held back — no link — until the user accepts or rejects it.
 */
import { toBase64Url } from '../../src-shared/bytes';
import type { TrustRecord } from '../../src-shared/ipc';

export type TrustStatus =
  | { kind: 'new' }
  | { kind: 'known'; verified: boolean }
  | { kind: 'conflict'; previous: TrustRecord }
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
    if (record) return record.decision === 'rejected' ? { kind: 'rejected' } : { kind: 'known', verified: record.verified };
    const key = toBase64Url(signingKey);
    const previous = [...this.records.values()].find((r) => r.displayName === displayName && r.signingKey !== key && r.decision !== 'rejected' && !r.replacedBy);
    return previous ? { kind: 'conflict', previous } : { kind: 'new' };
  }

  /** Pins a console seen for the first time (or updates the name of a known one). */
  pin(peerId: string, displayName: string, signingKey: Uint8Array): void {
    const existing = this.records.get(peerId);
    this.put({ ...(existing ?? { peerId, signingKey: toBase64Url(signingKey), firstSeen: Date.now(), verified: false }), displayName });
  }

  /** The user accepts a console that took over a known display name: it is pinned, the old one retired. */
  accept(peerId: string, displayName: string, signingKey: Uint8Array): void {
    for (const r of this.records.values()) {
      if (r.displayName === displayName && r.peerId !== peerId && !r.replacedBy) this.put({ ...r, replacedBy: peerId });
    }
    this.put({ peerId, displayName, signingKey: toBase64Url(signingKey), firstSeen: Date.now(), verified: false, decision: 'accepted' });
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

  private put(record: TrustRecord): void {
    this.records.set(record.peerId, record);
    const snapshot = [...this.records.values()];
    this.saving = this.saving.then(() => this.storage.save(snapshot)).catch(() => undefined);
  }
}
