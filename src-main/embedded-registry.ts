/** Start/stop control of the registry embedded in the desktop app (on 127.0.0.1 by default). */
import type { Logger } from 'pino';
import { createRegistry, type RegistryHandle } from './registry/registry';
import type { EmbeddedRegistryStatus, InviteRequest, InviteSummary } from '../src-shared/ipc';

export interface EmbeddedRegistryOptions {
  host?: string;
  port: () => number;
  defaultProject: () => string;
  /** Redis URL when the embedded registry is one instance of several. */
  redis?: () => string | undefined;
  dataDir: string;
  webRoot?: string;
  /** Page origins besides the app's own (app://console) that may open its WebSocket: the dev server's. */
  allowedOrigins?: string[];
  logger: Logger;
}

export class EmbeddedRegistry {
  private handle: RegistryHandle | undefined;
  private lastError: string | undefined;
  private pending: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: EmbeddedRegistryOptions) {}

  status(): EmbeddedRegistryStatus {
    if (!this.handle) return { available: true, running: false, ...(this.lastError ? { error: this.lastError } : {}) };
    return { available: true, running: true, url: this.handle.url, httpUrl: this.handle.httpUrl, consoles: this.handle.stats().consoles };
  }

  /** Starts (idempotent). A port in use is reported in the status, not thrown. */
  start(): Promise<EmbeddedRegistryStatus> {
    return this.serialize(async () => {
      if (this.handle) return this.status();
      try {
        this.handle = await createRegistry({
          host: this.options.host ?? '127.0.0.1',
          port: this.options.port(),
          dataDir: this.options.dataDir,
          logger: this.options.logger,
          ...(this.options.redis?.() ? { redis: this.options.redis()! } : {}),
          ...(this.options.webRoot ? { webRoot: this.options.webRoot } : {}),
          ...(this.options.allowedOrigins?.length ? { allowedOrigins: this.options.allowedOrigins } : {}),
        });
        this.lastError = undefined;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        this.lastError = code === 'EADDRINUSE' ? `port ${this.options.port()} is in use: choose another in settings` : (error as Error).message;
      }
      return this.status();
    });
  }

  stop(): Promise<EmbeddedRegistryStatus> {
    return this.serialize(async () => {
      const handle = this.handle;
      this.handle = undefined;
      await handle?.close();
      return this.status();
    });
  }

  async createInvite(request: InviteRequest): Promise<{ link: string }> {
    if (!this.handle) throw new Error('the embedded registry is not running');
    const { link } = await this.handle.createInvite({
      project: request.project ?? this.options.defaultProject(),
      ttlMs: request.ttlMs,
      ...(request.maxUses ? { maxUses: request.maxUses } : {}),
    });
    return { link };
  }

  /** Invites of this registry's data folder (this session's and earlier ones') that have not expired. */
  listInvites(): InviteSummary[] {
    return this.handle?.listInvites() ?? [];
  }

  async revokeInvite(id: string): Promise<InviteSummary[]> {
    if (!this.handle) throw new Error('the embedded registry is not running');
    await this.handle.revokeInvite(id);
    return this.handle.listInvites();
  }

  private serialize<T>(step: () => Promise<T>): Promise<T> {
    const next = this.pending.then(step, step);
    this.pending = next.catch(() => undefined);
    return next;
  }
}
