/** A real `ws` client speaking the registry protocol, for tests: no mocks between it and the registry. */
import WebSocket, { type ClientOptions } from 'ws';
import { encode } from '@msgpack/msgpack';
import { decodeServerFrame, encodeFrame } from '../../src-shared/protocol/codec';
import { PROTOCOL_VERSION, type ClientFrame, type ClientInfo, type EarlyHelloFrame, type ServerFrame } from '../../src-shared/protocol/signaling';
import { earlyHelloPayload } from '../../src-shared/protocol/early-hello';
import { createIdentity, ed25519Sign, signedMessage, type SecretIdentity } from '../../src-shared/identity';

export class TestClient {
  readonly frames: ServerFrame[] = [];
  closeCode: number | undefined;
  closeReason = '';
  private waiters: Array<() => void> = [];
  private readonly closed: Promise<void>;

  private constructor(readonly ws: WebSocket, readonly identity: SecretIdentity) {
    ws.on('message', (data: Buffer) => {
      const decoded = decodeServerFrame(new Uint8Array(data));
      if (!decoded.ok) throw new Error(`registry sent an invalid frame: ${decoded.message}`);
      if (process.env.DEBUG_WSP) console.log('frame', decoded.frame.type, (decoded.frame as {code?: string}).code ?? '');
      this.frames.push(decoded.frame);
      this.notify();
    });
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => {
        this.closeCode = code;
        this.closeReason = reason.toString();
        this.notify();
        resolve();
      }),
    );
  }

  /**
   * `socket`: ws client options, e.g. `localAddress` to connect from another loopback address, or
   * `origin`/`headers`; `protocols`: subprotocols to offer (a console's early hello rides in them).
   */
  static async open(url: string, identity?: SecretIdentity, socket?: ClientOptions, protocols: string[] = []): Promise<TestClient> {
    const id = identity ?? (await createIdentity());
    const ws = new WebSocket(url, protocols, socket); // listeners attach synchronously below: no frame is missed
    const client = new TestClient(ws, id);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return client;
  }

  /** Opens, answers the challenge and waits for welcome (or an error/close). */
  static async join(url: string, invite: string, options: { identity?: SecretIdentity; name?: string; socket?: ClientOptions; client?: ClientInfo } = {}): Promise<TestClient> {
    const client = await TestClient.open(url, options.identity, options.socket);
    await client.hello(invite, options.name, options.client ? { client: options.client } : {});
    await client.waitFor((f) => f.type === 'welcome' || f.type === 'error');
    return client;
  }

  async hello(invite: string, name = 'tester', overrides: Partial<Extract<ClientFrame, { type: 'hello' }>> = {}): Promise<void> {
    const challenge = await this.waitFor((f) => f.type === 'challenge');
    if (challenge.type !== 'challenge') throw new Error('unreachable');
    const id = this.identity;
    this.send({
      type: 'hello',
      protocol: PROTOCOL_VERSION,
      invite,
      display_name: name,
      signing_key: id.signingPublicKey,
      box_key: id.boxPublicKey,
      box_key_sig: id.boxKeySignature,
      nonce_sig: await ed25519Sign(id.signingSecretKey, signedMessage('registryAuth', challenge.nonce)),
      ...overrides,
    });
  }

  send(frame: ClientFrame): void {
    this.ws.send(encodeFrame(frame));
  }

  sendRaw(data: Uint8Array | string): void {
    this.ws.send(data);
  }

  sendValue(value: unknown): void {
    this.ws.send(encode(value));
  }

  get welcome(): Extract<ServerFrame, { type: 'welcome' }> {
    const frame = this.frames.find((f) => f.type === 'welcome');
    if (!frame || frame.type !== 'welcome') throw new Error(`not welcomed: ${JSON.stringify(this.errors())}`);
    return frame;
  }

  errors(): Array<Extract<ServerFrame, { type: 'error' }>> {
    return this.frames.filter((f): f is Extract<ServerFrame, { type: 'error' }> => f.type === 'error');
  }

  /** Resolves with the first frame (from the start) that matches; rejects on close or timeout. */
  waitFor<T extends ServerFrame>(match: (f: ServerFrame) => boolean, timeoutMs = 5000, from = 0): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.frames.slice(from).find(match);
        if (found) return resolve(found as T), true;
        if (this.closeCode !== undefined) return reject(new Error(`closed ${this.closeCode} ${this.closeReason} before a matching frame`)), true;
        return false;
      };
      if (check()) return;
      const timer = setTimeout(() => reject(new Error('timed out waiting for a frame')), timeoutMs);
      const waiter = () => {
        if (check()) {
          clearTimeout(timer);
          this.waiters = this.waiters.filter((w) => w !== waiter);
        }
      };
      this.waiters.push(waiter);
    });
  }

  waitForClose(timeoutMs = 5000): Promise<number> {
    return Promise.race([
      this.closed.then(() => this.closeCode!),
      new Promise<number>((_, reject) => setTimeout(() => reject(new Error('not closed in time')), timeoutMs)),
    ]);
  }

  close(): Promise<void> {
    this.ws.close();
    return this.closed;
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

/** A hello to send with the upgrade (early-hello.ts), signed over its own nonce; `changes` replace any field after signing. */
export async function earlyHello(identity: SecretIdentity, invite: string, changes: Partial<EarlyHelloFrame> = {}): Promise<EarlyHelloFrame> {
  const at = changes.early_at ?? Date.now();
  const salt = changes.early_salt ?? crypto.getRandomValues(new Uint8Array(16));
  return {
    type: 'hello',
    protocol: PROTOCOL_VERSION,
    invite,
    display_name: 'Ada',
    signing_key: identity.signingPublicKey,
    box_key: identity.boxPublicKey,
    box_key_sig: identity.boxKeySignature,
    nonce_sig: await ed25519Sign(identity.signingSecretKey, signedMessage('registryHello', earlyHelloPayload(at, salt))),
    early_at: at,
    early_salt: salt,
    ...changes,
  };
}
