/**
 * Invite tokens: JWTs (HS256, jose) signed with the registry's secret, naming a project, an
 * expiry and optionally how many distinct consoles may use them. The secret and the use counts
 * live in the registry's data folder so invites survive restarts.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { projectIdSchema } from '../../src-shared/protocol/signaling';
import type { ErrorCode } from '../../src-shared/protocol/errors';

const AUDIENCE = 'wsp-registry';
export const SECRET_FILE = 'registry-secret.key';
const USES_FILE = 'invite-uses.json';

export interface InviteOptions {
  project: string;
  ttlMs: number;
  maxUses?: number;
}

export type InviteCheck =
  | { ok: true; project: string; inviteId: string; maxUses?: number }
  | { ok: false; code: Extract<ErrorCode, 'INVITE_INVALID' | 'INVITE_EXPIRED' | 'INVITE_EXHAUSTED'>; message: string };

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
  }

  async issue({ project, ttlMs, maxUses }: InviteOptions): Promise<string> {
    projectIdSchema.parse(project);
    if (!(ttlMs > 0)) throw new Error('an invite needs a positive lifetime');
    if (maxUses !== undefined && !(Number.isInteger(maxUses) && maxUses > 0)) {
      throw new Error('max uses must be a positive whole number');
    }
    const nowSeconds = Math.floor(this.now() / 1000);
    return new SignJWT({ project, ...(maxUses ? { max_uses: maxUses } : {}) })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setAudience(AUDIENCE)
      .setJti(randomUUID())
      .setIssuedAt(nowSeconds)
      .setExpirationTime(nowSeconds + Math.ceil(ttlMs / 1000))
      .sign(this.secret);
  }

  /** Verifies signature, audience, expiry and claims; does not consume a use. */
  async check(token: string): Promise<InviteCheck> {
    try {
      const { payload } = await jwtVerify(token, this.secret, {
        audience: AUDIENCE,
        algorithms: ['HS256'],
        currentDate: new Date(this.now()),
        clockTolerance: 0,
        // This registry never issues an invite without an expiry: one without is not its own.
        requiredClaims: ['exp'],
      });
      const project = projectIdSchema.safeParse(payload.project);
      const maxUses = payload.max_uses;
      if (!project.success || typeof payload.jti !== 'string' || (maxUses !== undefined && typeof maxUses !== 'number')) {
        return { ok: false, code: 'INVITE_INVALID', message: 'the invite lacks a valid project or id' };
      }
      return { ok: true, project: project.data, inviteId: payload.jti, ...(maxUses !== undefined ? { maxUses } : {}) };
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) {
        return { ok: false, code: 'INVITE_EXPIRED', message: 'the invite has expired: ask for a new one' };
      }
      if (error instanceof joseErrors.JWTClaimValidationFailed && error.claim === 'exp') {
        return { ok: false, code: 'INVITE_INVALID', message: 'the invite has no valid expiry (exp): ask for a new one' };
      }
      return { ok: false, code: 'INVITE_INVALID', message: 'the invite was not issued by this registry or is damaged' };
    }
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
