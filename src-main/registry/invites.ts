/**
 * Invite tokens: JWTs (HS256, jose) signed with the registry's secret, naming a project, an
 * expiry and optionally how many distinct consoles may use them. The secret, the use counts, the
 * invites issued (their claims, never the token) and the revoked ones live in the registry's data
 * folder, so invites survive restarts and `wsp-registry invite list|revoke` can work on them.
 */
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, existsSync, renameSync, watchFile, unwatchFile } from 'node:fs';
import { join } from 'node:path';
import { SignJWT, compactVerify, decodeJwt, decodeProtectedHeader, type JWTPayload, type ProtectedHeaderParameters } from 'jose';
import { projectIdSchema } from '../../src-shared/protocol/signaling';
import type { ErrorCode } from '../../src-shared/protocol/errors';
import { parseInvite, type InviteSummary } from '../../src-shared/invite';
import { SharedJsonFile } from './shared-json-file';

const AUDIENCE = 'wsp-registry';
export const SECRET_FILE = 'registry-secret.key';
const USES_FILE = 'invite-uses.json';
/** Invites issued from this data folder: id → claims (no token: it is a bearer credential). */
export const INVITES_FILE = 'invites.json';
/** Revoked invites: id → when the invite expires (the entry is useless after that). */
export const REVOCATIONS_FILE = 'invite-revocations.json';
/** How often a running registry looks for revocations written by another process (the CLI). */
export const REVOCATION_POLL_MS = 1000;
/** One part of a compact JWS: unpadded base64url. */
const BASE64URL = /^[A-Za-z0-9_-]*$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type InviteRecord = Omit<InviteSummary, 'uses' | 'revoked'>;

export interface InviteOptions {
  project: string;
  ttlMs: number;
  maxUses?: number;
}

export type InviteCheck =
  | { ok: true; project: string; inviteId: string; maxUses?: number }
  | { ok: false; code: Extract<ErrorCode, 'INVITE_INVALID' | 'INVITE_EXPIRED' | 'INVITE_EXHAUSTED'>; message: string };

/** A revocation: which invite, and until when refusing it matters. */
export interface Revocation {
  id: string;
  expiresAt: number;
}

/** Reads the signing secret from `dataDir`, creating it (mode 0600) on first use. */
export function loadOrCreateSecret(dataDir: string): Uint8Array {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, SECRET_FILE);
  if (existsSync(path)) {
    const hex = readFileSync(path, 'utf8').trim();
    if (!/^[0-9a-f]{64,}$/i.test(hex)) throw new Error(`${path} does not hold a hex secret of at least 32 bytes`);
    return Uint8Array.from(Buffer.from(hex, 'hex'));
  }
  const secret = randomBytes(32);
  writeFileSync(path, secret.toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
  return Uint8Array.from(secret);
}

export class InviteAuthority {
  private readonly uses = new Map<string, Set<string>>();
  private readonly issued: SharedJsonFile<Record<string, InviteRecord>>;
  private readonly revocations: SharedJsonFile<Record<string, number>>;
  /** Revocations already announced to the listeners. */
  private readonly announced = new Set<string>();
  private readonly listeners: Array<(revocation: Revocation) => void> = [];
  private watching: (() => void) | undefined;

  constructor(
    private readonly secret: Uint8Array,
    private readonly dataDir?: string,
    private readonly now: () => number = Date.now,
  ) {
    if (secret.length < 32) throw new Error('the invite secret must be at least 32 bytes');
    if (dataDir && existsSync(join(dataDir, USES_FILE))) {
      const saved = JSON.parse(readFileSync(join(dataDir, USES_FILE), 'utf8')) as Record<string, string[]>;
      for (const [id, peers] of Object.entries(saved)) this.uses.set(id, new Set(peers));
    }
    this.issued = new SharedJsonFile(dataDir && join(dataDir, INVITES_FILE), isInviteRecords);
    this.revocations = new SharedJsonFile(dataDir && join(dataDir, REVOCATIONS_FILE), isRevocations);
    for (const id of Object.keys(this.revocations.get())) this.announced.add(id);
  }

  async issue(options: InviteOptions): Promise<string> {
    return (await this.issueRecorded(options)).token;
  }

  /** Issues an invite and records its claims, so it can be listed and revoked by id. */
  async issueRecorded({ project, ttlMs, maxUses }: InviteOptions): Promise<{ token: string; invite: InviteSummary }> {
    projectIdSchema.parse(project);
    if (!(ttlMs > 0)) throw new Error('an invite needs a positive lifetime');
    if (maxUses !== undefined && !(Number.isInteger(maxUses) && maxUses > 0)) {
      throw new Error('max uses must be a positive whole number');
    }
    const nowSeconds = Math.floor(this.now() / 1000);
    const id = randomUUID();
    const expiresSeconds = nowSeconds + Math.ceil(ttlMs / 1000);
    const token = await new SignJWT({ project, ...(maxUses ? { max_uses: maxUses } : {}) })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setAudience(AUDIENCE)
      .setJti(id)
      .setIssuedAt(nowSeconds)
      .setExpirationTime(expiresSeconds)
      .sign(this.secret);
    const record: InviteRecord = { id, project, issuedAt: nowSeconds * 1000, expiresAt: expiresSeconds * 1000, ...(maxUses ? { maxUses } : {}) };
    this.issued.update((records) => {
      for (const [key, old] of Object.entries(records)) if (old.expiresAt <= this.now()) delete records[key];
      records[id] = record;
    });
    return { token, invite: { ...record, uses: 0, revoked: false } };
  }

  /** The invites issued from this data folder that have not expired, newest first. */
  list(): InviteSummary[] {
    const revoked = this.revocations.get();
    return Object.values(this.issued.get())
      .filter((record) => record.expiresAt > this.now())
      .sort((a, b) => b.issuedAt - a.issuedAt)
      .map((record) => ({ ...record, uses: this.uses.get(record.id)?.size ?? 0, revoked: record.id in revoked }));
  }

  /**
   * Revokes an invite, named by its id (one issued from this data folder), its link or its token
   * (one signed with this registry's secret). From then on it admits nobody, and a running registry
   * ends the connections it admitted (`onRevoked`). Throws with a message for the operator.
   */
  async revoke(invite: string): Promise<Revocation & { project: string; alreadyRevoked: boolean }> {
    const target = await this.identify(invite.trim());
    if (target.expiresAt <= this.now()) throw new Error(`invite ${target.id} has already expired: it admits nobody`);
    const alreadyRevoked = target.id in this.revocations.get();
    this.revocations.update((revoked) => {
      for (const [id, expiresAt] of Object.entries(revoked)) if (expiresAt <= this.now()) delete revoked[id];
      revoked[target.id] = target.expiresAt;
    });
    this.announce();
    return { ...target, alreadyRevoked };
  }

  /** The revocations of invites that have not expired yet. */
  revoked(): Revocation[] {
    return Object.entries(this.revocations.get())
      .filter(([, expiresAt]) => expiresAt > this.now())
      .map(([id, expiresAt]) => ({ id, expiresAt }));
  }

  /** Whether the invite was revoked (here, or by another process writing this data folder). */
  isRevoked(inviteId: string): boolean {
    return inviteId in this.revocations.get();
  }

  /**
   * Calls `listener` for every invite revoked from now on: here, or by another process in this data
   * folder (the file is polled every REVOCATION_POLL_MS until `close`).
   */
  onRevoked(listener: (revocation: Revocation) => void): void {
    this.listeners.push(listener);
    if (this.watching || !this.dataDir) return;
    const path = join(this.dataDir, REVOCATIONS_FILE);
    const changed = () => this.announce();
    watchFile(path, { interval: REVOCATION_POLL_MS, persistent: false }, changed);
    this.watching = () => unwatchFile(path, changed);
  }

  close(): void {
    this.watching?.();
    this.watching = undefined;
  }

  /** Tells the listeners of revocations they have not heard of yet. */
  private announce(): void {
    for (const [id, expiresAt] of Object.entries(this.revocations.get())) {
      if (this.announced.has(id)) continue;
      this.announced.add(id);
      for (const listener of this.listeners) listener({ id, expiresAt });
    }
  }

  /** The invite an operator named: by id, link or token. */
  private async identify(invite: string): Promise<Omit<InviteRecord, 'issuedAt' | 'maxUses'>> {
    if (UUID.test(invite)) {
      const record = this.issued.get()[invite.toLowerCase()];
      if (!record) throw new Error(`no invite ${invite} was issued from this data folder: pass the invite link or token instead`);
      return record;
    }
    let token = invite;
    if (/^https?:\/\//.test(invite)) token = parseInvite(invite).token;
    let payload: Record<string, unknown>;
    try {
      const { payload: bytes } = await compactVerify(token, this.secret, { algorithms: ['HS256'] });
      payload = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
    } catch {
      throw new Error('this is not an invite id, link or token signed by this registry (check --data-dir)');
    }
    const project = projectIdSchema.safeParse(payload.project);
    if (payload.aud !== AUDIENCE || typeof payload.jti !== 'string' || typeof payload.exp !== 'number' || !project.success) {
      throw new Error('this token is signed by this registry but is no invite');
    }
    return { id: payload.jti, project: project.data, expiresAt: payload.exp * 1000 };
  }

  /**
   * Verifies signature, audience, expiry and claims; does not consume a use. Synchronous on
   * purpose: jose's jwtVerify checks the HMAC through WebCrypto, which Node runs as a libuv
   * threadpool job, so each console's admission waited for a thread (behind every other admission
   * and the Ed25519 checks) and then for the event loop again. Inline, an HMAC over a few hundred
   * bytes costs microseconds (docs/BENCHMARKS.md, "Burst"). The checks are jwtVerify's with the
   * options this registry gave it: HS256 only, no `crit`, signature before any claim, audience,
   * a numeric `exp` in the future (no clock tolerance), `nbf` if present, `iat` if present.
   */
  check(token: string): InviteCheck {
    const invalid: InviteCheck = { ok: false, code: 'INVITE_INVALID', message: 'the invite was not issued by this registry or is damaged' };
    const parts = token.split('.');
    if (parts.length !== 3 || !parts.every((part) => BASE64URL.test(part))) return invalid;
    const [encodedHeader, encodedPayload, encodedSignature] = parts as [string, string, string];
    let header: ProtectedHeaderParameters;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      return invalid;
    }
    if (header.alg !== 'HS256' || header.crit !== undefined || header.b64 !== undefined) return invalid;
    const expected = createHmac('sha256', this.secret).update(`${encodedHeader}.${encodedPayload}`).digest();
    const signature = Buffer.from(encodedSignature, 'base64url');
    // Compared only once it is the canonical encoding of 32 bytes (Buffer skips stray characters).
    if (signature.length !== expected.length || signature.toString('base64url') !== encodedSignature || !timingSafeEqual(signature, expected)) return invalid;
    let payload: JWTPayload;
    try {
      payload = decodeJwt(token);
    } catch {
      return invalid;
    }
    const nowSeconds = Math.floor(this.now() / 1000);
    const audience = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    if (!audience.includes(AUDIENCE)) return invalid;
    if (typeof payload.exp !== 'number') return { ok: false, code: 'INVITE_INVALID', message: 'the invite has no valid expiry (exp): ask for a new one' };
    if ((payload.iat !== undefined && typeof payload.iat !== 'number') || (payload.nbf !== undefined && (typeof payload.nbf !== 'number' || payload.nbf > nowSeconds))) return invalid;
    if (payload.exp <= nowSeconds) return { ok: false, code: 'INVITE_EXPIRED', message: 'the invite has expired: ask for a new one' };
    const project = projectIdSchema.safeParse(payload.project);
    const maxUses = payload.max_uses;
    if (!project.success || typeof payload.jti !== 'string' || (maxUses !== undefined && typeof maxUses !== 'number')) {
      return { ok: false, code: 'INVITE_INVALID', message: 'the invite lacks a valid project or id' };
    }
    return { ok: true, project: project.data, inviteId: payload.jti, ...(maxUses !== undefined ? { maxUses } : {}) };
  }

  /** Records that `peerId` used the invite; the same console rejoining does not use it up. */
  consumeUse(inviteId: string, maxUses: number | undefined, peerId: string): boolean {
    if (maxUses === undefined) return true;
    const used = this.uses.get(inviteId) ?? new Set<string>();
    if (used.has(peerId)) return true;
    if (used.size >= maxUses) return false;
    used.add(peerId);
    this.uses.set(inviteId, used);
    this.persistUses();
    return true;
  }

  private persistUses(): void {
    if (!this.dataDir) return;
    const path = join(this.dataDir, USES_FILE);
    const data = Object.fromEntries([...this.uses].map(([id, peers]) => [id, [...peers]]));
    writeFileSync(path + '.tmp', JSON.stringify(data), { mode: 0o600 });
    renameSync(path + '.tmp', path); // atomic: a crash never leaves half a file
  }
}

function isInviteRecords(value: unknown): value is Record<string, InviteRecord> {
  return typeof value === 'object' && value !== null && Object.values(value).every((r: Partial<InviteRecord>) => typeof r?.id === 'string' && typeof r.project === 'string' && typeof r.expiresAt === 'number' && typeof r.issuedAt === 'number');
}

function isRevocations(value: unknown): value is Record<string, number> {
  return typeof value === 'object' && value !== null && Object.values(value).every((expiresAt) => typeof expiresAt === 'number');
}
