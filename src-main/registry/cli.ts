/**
 * wsp-registry: the standalone registry.
 *   wsp-registry [--host H] [--port P] [--data-dir D] [--public-url URL] [--web-root DIR]
 *   wsp-registry invite --project NAME [--ttl 7d] [--max-uses N] [--data-dir D] [--public-url URL]
 */
import { parseArgs } from 'node:util';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { createRegistry } from './registry';
import { InviteAuthority, loadOrCreateSecret } from './invites';
import { parseDuration } from './duration';
import { formatInviteLink } from '../../src-shared/invite';

const DEFAULT_PORT = 7420;
/** For real users; tests pass --no-stun or their own server and never reach a public one. */
const DEFAULT_STUN_URL = 'stun:stun.l.google.com:19302';
const USAGE = `usage:
  wsp-registry [--host 127.0.0.1] [--port ${DEFAULT_PORT}] [--data-dir ~/.wsp-registry] [--public-url URL] [--web-root DIR]
               [--stun-url URL]... [--no-stun] [--turn-url URL]... [--turn-secret S | --turn-secret-file F] [--turn-ttl 1h]
               [--relay-pair-bytes-per-second N] [--relay-project-bytes-per-second N] [--relay-project-bytes-per-day N]
               [--redis redis://host:port[/db]] [--alternate-url URL]... [--heartbeat 15s]
  wsp-registry invite --project NAME [--ttl 7d] [--max-uses N] [--data-dir DIR] [--public-url URL]`;

export async function main(argv: string[]): Promise<number> {
  const command = argv[0] === 'invite' ? 'invite' : 'serve';
  const { values } = parseArgs({
    args: command === 'invite' ? argv.slice(1) : argv,
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: String(DEFAULT_PORT) },
      'data-dir': { type: 'string', default: process.env.WSP_REGISTRY_DATA_DIR ?? join(homedir(), '.wsp-registry') },
      'public-url': { type: 'string', multiple: true },
      'web-root': { type: 'string' },
      'stun-url': { type: 'string', multiple: true },
      'no-stun': { type: 'boolean' },
      'turn-url': { type: 'string', multiple: true },
      'turn-secret': { type: 'string' },
      'turn-secret-file': { type: 'string' },
      'turn-ttl': { type: 'string', default: '1h' },
      'relay-pair-bytes-per-second': { type: 'string' },
      'relay-project-bytes-per-second': { type: 'string' },
      'relay-project-bytes-per-day': { type: 'string' },
      redis: { type: 'string' },
      'alternate-url': { type: 'string', multiple: true },
      heartbeat: { type: 'string' },
      project: { type: 'string' },
      ttl: { type: 'string', default: '7d' },
      'max-uses': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0–65535, not ${values.port}`);
  const dataDir = resolve(values['data-dir']);

  if (command === 'invite') {
    if (!values.project) throw new UsageError('invite needs --project NAME');
    const authority = new InviteAuthority(loadOrCreateSecret(dataDir), dataDir);
    const maxUses = values['max-uses'] === undefined ? undefined : Number(values['max-uses']);
    const token = await authority.issue({ project: values.project, ttlMs: parseDuration(values.ttl), maxUses });
    // Several --public-url: one registry of several instances; the first is tried first, then the others.
    const [primary, ...alternates] = values['public-url'] ?? [`http://${values.host}:${port}`];
    console.log(formatInviteLink(primary!, token, alternates));
    return 0;
  }

  const webRoot = values['web-root'] ?? defaultWebRoot();
  const turnSecret = values['turn-secret-file'] ? readFileSync(values['turn-secret-file'], 'utf8').trim() : (values['turn-secret'] ?? process.env.WSP_TURN_SECRET);
  const turnUrls = values['turn-url'] ?? [];
  if (turnUrls.length && !turnSecret) throw new UsageError('--turn-url needs --turn-secret, --turn-secret-file or WSP_TURN_SECRET (the coturn static-auth-secret)');
  const registry = await createRegistry({
    host: values.host,
    port,
    dataDir,
    stunUrls: values['no-stun'] ? [] : (values['stun-url'] ?? [DEFAULT_STUN_URL]),
    ...(turnUrls.length ? { turn: { urls: turnUrls, secret: turnSecret!, ttlSeconds: parseDuration(values['turn-ttl']) / 1000 } } : {}),
    ...(values.redis ? { redis: values.redis } : {}),
    ...(values['alternate-url'] ? { alternateUrls: values['alternate-url'] } : {}),
    ...(values.heartbeat ? { limits: { heartbeatMs: parseDuration(values.heartbeat) } } : {}),
    relayBudget: {
      ...(values['relay-pair-bytes-per-second'] ? { pairBytesPerSecond: positiveNumber('--relay-pair-bytes-per-second', values['relay-pair-bytes-per-second']) } : {}),
      ...(values['relay-project-bytes-per-second'] ? { projectBytesPerSecond: positiveNumber('--relay-project-bytes-per-second', values['relay-project-bytes-per-second']) } : {}),
      ...(values['relay-project-bytes-per-day'] ? { projectBytesPerDay: positiveNumber('--relay-project-bytes-per-day', values['relay-project-bytes-per-day']) } : {}),
    },
    ...(values['public-url']?.[0] ? { publicUrl: values['public-url'][0] } : {}),
    ...(webRoot ? { webRoot } : {}),
  });
  console.log(`wsp-registry listening on ${registry.httpUrl} (signaling ${registry.url})`);
  const stop = () => void registry.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return new Promise<number>(() => {}); // serve until a signal
}

function positiveNumber(option: string, text: string): number {
  const value = Number(text);
  if (!(value > 0)) throw new UsageError(`${option} must be a positive number, not ${text}`);
  return value;
}

/** The web console built next to this file (out/renderer), if it exists. */
function defaultWebRoot(): string | undefined {
  const candidate = resolve(__dirname, '../renderer');
  return existsSync(join(candidate, 'index.html')) ? candidate : undefined;
}

export class UsageError extends Error {}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: Error) => {
      console.error(`wsp-registry: ${error.message}`);
      if (error instanceof UsageError || error.name === 'TypeError') console.error(USAGE);
      process.exit(2);
    },
  );
}
