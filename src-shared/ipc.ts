/**
 * The one IPC contract between the renderer and the Electron main process. Main validates every
 * argument against these schemas (`satisfies IpcHandlers`), the preload exposes one method per
 * channel (`satisfies HostBridge`), and the web console implements the same `HostApi` over
 * browser storage. Errors cross as `{ code, message }`, never as stack traces.
 */
import { z } from './zod';
import { bytes, displayNameSchema, projectIdSchema } from './protocol/signaling';
import { IPC_METHODS, type IpcChannel } from './ipc-channels';
import { MAX_ENTRY_BYTES } from './workstream/entry';
import { iceUrlProblem } from './ice-url';
import type { InviteSummary } from './invite';

export type { InviteSummary };

export type { IpcChannel };

const iceServerSettingSchema = z
  .object({
    urls: z
      .array(z.string().superRefine((url, ctx) => {
        const problem = iceUrlProblem(url);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      }))
      .min(1)
      .max(8),
    username: z.string().max(256).optional(),
    credential: z.string().max(256).optional(),
  })
  .strict()
  .refine((server) => !server.urls.some((url) => url.startsWith('turn')) || (server.username && server.credential), {
    message: 'a TURN server needs a user name and a password: turn:HOST:PORT USER PASSWORD',
  });

export const linkSettingsSchema = z.object({
  /** No DataChannel this long after negotiation starts → registry relay. */
  fallbackAfterMs: z.number({ error: 'a number of seconds' }).int().min(1000, 'at least 1 s').max(120_000, 'at most 120 s'),
  iceTransportPolicy: z.enum(['all', 'relay']),
  /** ICE servers of the user's own, used besides the registry's. */
  iceServers: z.array(iceServerSettingSchema).max(16),
}).strict();

export const settingsSchema = z.object({
  displayName: displayNameSchema,
  links: linkSettingsSchema
    .extend({
      // Saved by an older version under looser rules: a server a browser would refuse is dropped,
      // the rest of the settings (name, invite) kept. A new one is refused when saved (settingsPatchSchema).
      iceServers: z.preprocess((servers) => (Array.isArray(servers) ? servers.filter((s) => iceServerSettingSchema.safeParse(s).success) : servers), linkSettingsSchema.shape.iceServers),
    })
    .default({ fallbackAfterMs: 10_000, iceTransportPolicy: 'all', iceServers: [] }),
  /** Share of the project's daily relay budget at which the relay warning turns strong. */
  relayWarningShare: z.number().min(0.05, 'at least 5 %').max(1, 'at most 100 %').default(0.8),
  theme: z.enum(['system', 'light', 'dark']).default('system'),
  /** The largest file this console shares or downloads in the workstream. */
  maxFileMiB: z.number().int().min(1, 'at least 1 MiB').max(16_384, 'at most 16 GiB').default(1024),
  /** The invite link this console last joined with; rejoined on start. */
  invite: z.string().max(4096).optional(),
  embeddedRegistry: z.object({
    /** Start the embedded registry with the app (the default). */
    enabled: z.boolean(),
    port: z.number().int().min(0, 'a port of 0–65535').max(65535, 'a port of 0–65535'),
    /** Project this console's own registry invites to. */
    project: projectIdSchema,
    /** Share the project space with other registry instances through Redis (redis://host:port[/db]). */
    redis: z.string().regex(/^rediss?:\/\/[^\s]+$/, 'a redis:// URL').optional(),
  }),
});
export type Settings = z.infer<typeof settingsSchema>;

/** Settings fields as the Settings panel names them, for messages about a value it refused. */
const SETTINGS_FIELDS: Readonly<Record<string, string>> = {
  displayName: 'Display name',
  'links.fallbackAfterMs': 'Relay fallback',
  'links.iceTransportPolicy': 'ICE transport policy',
  'links.iceServers': 'STUN/TURN servers',
  relayWarningShare: 'Loud relay warning',
  maxFileMiB: 'Largest file',
  theme: 'Theme',
  invite: 'Invite',
  embeddedRegistry: 'Embedded registry',
};

/** A refused settings value in the Settings panel's words: "STUN/TURN server 2: …", not "links.iceServers.1.urls.0: …". */
export function describeSettingsIssue(issue: { path: readonly PropertyKey[]; message: string }): string {
  const [first, second, index] = issue.path;
  if (first === 'links' && second === 'iceServers' && typeof index === 'number') return `STUN/TURN server ${index + 1}: ${issue.message}`;
  const label = SETTINGS_FIELDS[`${String(first)}.${String(second)}`] ?? SETTINGS_FIELDS[String(first)] ?? 'Settings';
  return `${label}: ${issue.message}`;
}

export const settingsPatchSchema = z.object({
  displayName: displayNameSchema.optional(),
  links: linkSettingsSchema.partial().strict().optional(),
  relayWarningShare: z.number({ error: 'a percentage' }).min(0.05, 'at least 5 %').max(1, 'at most 100 %').optional(),
  theme: z.enum(['system', 'light', 'dark']).optional(),
  maxFileMiB: z.number({ error: 'a whole number of MiB' }).int('a whole number of MiB').min(1, 'at least 1 MiB').max(16_384, 'at most 16 GiB').optional(),
  invite: z.string().max(4096).nullable().optional(),
  embeddedRegistry: settingsSchema.shape.embeddedRegistry.partial().strict().optional(),
}).strict();
export type SettingsPatch = z.infer<typeof settingsPatchSchema>;

export const inviteRequestSchema = z.object({
  project: projectIdSchema.optional(),
  ttlMs: z.number().int().min(60_000).max(365 * 86_400_000),
  maxUses: z.number().int().positive().max(10_000).optional(),
}).strict();
export type InviteRequest = z.infer<typeof inviteRequestSchema>;

/** A pinned console (trust on first use). Keys in base64url. */
export const trustRecordSchema = z.object({
  peerId: z.string().max(64),
  displayName: z.string().max(64),
  signingKey: z.string().max(64),
  firstSeen: z.number().int().nonnegative(),
  verified: z.boolean(),
  /** The user's answer when this console took over a known display name. */
  decision: z.enum(['accepted', 'rejected']).optional(),
  /** Set when a newer console with the same name was accepted instead. */
  replacedBy: z.string().max(64).optional(),
}).strict();
export type TrustRecord = z.infer<typeof trustRecordSchema>;
export const trustRecordsSchema = z.array(trustRecordSchema).max(10_000);

export interface IdentityInfo {
  peerId: string;
  signingPublicKey: Uint8Array;
  boxPublicKey: Uint8Array;
  boxKeySignature: Uint8Array;
  fingerprint: string;
  /** Where the secret keys are kept, e.g. "OS keychain (safeStorage)" or "browser session storage". */
  storage: string;
}

export interface EmbeddedRegistryStatus {
  available: boolean;
  running: boolean;
  /** ws:// URL consoles connect to, when running. */
  url?: string;
  httpUrl?: string;
  consoles?: number;
  error?: string;
}

export interface HostApi {
  kind: 'desktop' | 'web';
  getIdentity(): Promise<IdentityInfo>;
  /** Signs a registry's challenge nonce; the secret key never leaves the host. */
  signChallenge(nonce: Uint8Array): Promise<Uint8Array>;
  /**
   * Signs an early hello's payload (its time and a salt, early-hello.ts) for a connection made
   * now; the host refuses a time more than 2 s from its clock, so nothing signed now is good later.
   */
  signEarlyHello(payload: Uint8Array): Promise<Uint8Array>;
  /**
   * Signs this session's certificate body (its signaling and relay public keys and start time,
   * see session-certificate.ts) with the identity key; the host refuses anything else.
   */
  certifySession(body: Uint8Array): Promise<Uint8Array>;
  /** Signs a workstream entry body of this identity's, written now; refuses anything else. */
  signEntry(body: Uint8Array): Promise<Uint8Array>;
  getSettings(): Promise<Settings>;
  updateSettings(patch: SettingsPatch): Promise<Settings>;
  registryStatus(): Promise<EmbeddedRegistryStatus>;
  startRegistry(): Promise<EmbeddedRegistryStatus>;
  stopRegistry(): Promise<EmbeddedRegistryStatus>;
  createInvite(request: InviteRequest): Promise<{ link: string }>;
  /** The embedded registry's unexpired invites (ids and claims, never tokens), newest first. */
  listInvites(): Promise<InviteSummary[]>;
  /** Revokes one of them by id: joins with it are refused, consoles it admitted disconnected. Answers the new list. */
  revokeInvite(id: string): Promise<InviteSummary[]>;
  /** Pinned keys and verified marks (trust on first use), kept across restarts. */
  loadTrust(): Promise<TrustRecord[]>;
  saveTrust(records: TrustRecord[]): Promise<void>;
  /** A system notification (the desktop app; a browser tab shows its notices in the page only). */
  notify(notice: SystemNotice): Promise<void>;
}

/** What a system notification shows: plain text, short (the OS shows a line or two). */
export const systemNoticeSchema = z.object({ title: z.string().min(1).max(120), body: z.string().max(400) }).strict();
export type SystemNotice = z.infer<typeof systemNoticeSchema>;

/** Channel → argument schema. The tuple is exactly what the preload passes to invoke(). */
export const IPC_ARGS = {
  'identity:get': z.tuple([]),
  'identity:sign-challenge': z.tuple([bytes({ exact: 32 })]),
  'identity:sign-early-hello': z.tuple([bytes({ exact: 24 })]),
  'identity:certify-session': z.tuple([bytes({ max: 128 })]),
  'identity:sign-entry': z.tuple([bytes({ max: MAX_ENTRY_BYTES })]),
  'settings:get': z.tuple([]),
  'settings:update': z.tuple([settingsPatchSchema]),
  'registry:status': z.tuple([]),
  'registry:start': z.tuple([]),
  'registry:stop': z.tuple([]),
  'registry:create-invite': z.tuple([inviteRequestSchema]),
  'registry:list-invites': z.tuple([]),
  'registry:revoke-invite': z.tuple([z.uuid('an invite id (a UUID)')]),
  'trust:load': z.tuple([]),
  'trust:save': z.tuple([trustRecordsSchema]),
  'notify:show': z.tuple([systemNoticeSchema]),
} as const satisfies Record<IpcChannel, z.ZodType>;


export { IPC_METHODS, BRIDGE_GLOBAL } from './ipc-channels';

type MethodOf<C extends IpcChannel> = HostApi[(typeof IPC_METHODS)[C]];
export type IpcResult<C extends IpcChannel> = Awaited<ReturnType<MethodOf<C>>>;

export type IpcError = { code: 'INVALID_ARGUMENT' | 'FORBIDDEN_SENDER' | 'FAILED' | 'UNAVAILABLE'; message: string };
export type IpcEnvelope<T> = { ok: true; value: T } | { ok: false; error: IpcError };

/** What main registers: one handler per channel, taking validated arguments. */
export type IpcHandlers = { [C in IpcChannel]: (...args: z.infer<(typeof IPC_ARGS)[C]>) => Promise<IpcResult<C>> };

/** What the preload exposes as `window.wsp`: one method per channel, returning the envelope. */
export type HostBridge = { [C in IpcChannel as (typeof IPC_METHODS)[C]]: (...args: z.infer<(typeof IPC_ARGS)[C]>) => Promise<IpcEnvelope<IpcResult<C>>> };

