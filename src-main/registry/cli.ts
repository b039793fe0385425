/**
 * wsp-registry: the standalone registry.
 *   wsp-registry [--host H] [--port P] [--data-dir D] [--public-url URL] [--web-root DIR] [--tls-cert F --tls-key F]
 *   wsp-registry invite --project NAME [--ttl 7d] [--max-uses N] [--data-dir D] [--public-url URL]
 *   wsp-registry invite list [--data-dir D]
 *   wsp-registry invite revoke ID|LINK|TOKEN [--data-dir D]
 */
import { parseArgs } from 'node:util';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { createRegistry, type TlsFiles } from './registry';
import { InviteAuthority, SECRET_FILE, loadOrCreateSecret } from './invites';
import { parseDuration } from './duration';
import { formatInviteLink, type InviteSummary } from '../../src-shared/invite';
import { iceUrlProblem } from '../../src-shared/ice-url';

const DEFAULT_PORT = 7420;
/** For real users; tests pass --no-stun or their own server and never reach a public one. */
const DEFAULT_STUN_URL = 'stun:stun.l.google.com:19302';
const USAGE = `usage:
  wsp-registry [--host 127.0.0.1] [--port ${DEFAULT_PORT}] [--data-dir ~/.wsp-registry] [--public-url URL] [--web-root DIR]
               [--tls-cert FULLCHAIN.pem --tls-key KEY.pem]   (https and wss; SIGHUP reloads both files)
               [--stun-url URL]... [--no-stun] [--turn-url URL]... [--turn-secret S | --turn-secret-file F] [--turn-ttl 1h]
               [--relay-pair-bytes-per-second N] [--relay-project-bytes-per-second N] [--relay-project-bytes-per-day N]
               [--redis redis://host:port[/db]] [--alternate-url URL]... [--heartbeat 15s]
               [--allowed-host NAME]... [--allowed-origin ORIGIN]... [--trust-proxy]
               [--request-timeout 5s] [--auth-timeout 10s] [--max-unauthenticated 1024] [--max-unauthenticated-per-address 64]
  wsp-registry invite --project NAME [--ttl 7d] [--max-uses N] [--data-dir DIR] [--public-url URL | --tls-cert F]
  wsp-registry invite list [--data-dir DIR]
  wsp-registry invite revoke ID|LINK|TOKEN [--data-dir DIR]`;

type Command = 'serve' | 'invite' | 'invite list' | 'invite revoke';

function commandOf(argv: string[]): { command: Command; args: string[] } {
  if (argv[0] !== 'invite') return { command: 'serve', args: argv };
  if (argv[1] === 'list' || argv[1] === 'revoke') return { command: `invite ${argv[1]}`, args: argv.slice(2) };
  return { command: 'invite', args: argv.slice(1) };
}

export async function main(argv: string[]): Promise<number> {
  const { command, args } = commandOf(argv);
  const { values, positionals, tokens } = parseArgs({
    args,
    tokens: true,
    allowPositionals: command === 'invite revoke',
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: String(DEFAULT_PORT) },
      'data-dir': { type: 'string', default: process.env.WSP_REGISTRY_DATA_DIR ?? join(homedir(), '.wsp-registry') },
      'public-url': { type: 'string', multiple: true },
      'web-root': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
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
      'allowed-host': { type: 'string', multiple: true },
      'allowed-origin': { type: 'string', multiple: true },
      'trust-proxy': { type: 'boolean' },
      'request-timeout': { type: 'string' },
      'auth-timeout': { type: 'string' },
      'max-unauthenticated': { type: 'string' },
      'max-unauthenticated-per-address': { type: 'string' },
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
  // An option of another command would otherwise be ignored without a word (`--ttl` to the server).
  for (const token of tokens) {
    if (token.kind === 'option' && !optionApplies(command, token.name)) throw new UsageError(`--${token.name} is not an option of ${command === 'serve' ? 'the registry server' : `\`${command}\``} (see --help)`);
  }
  for (const url of [...(values['public-url'] ?? []), ...(values['alternate-url'] ?? [])]) {
    if (!isHttpUrl(url)) throw new UsageError(`--public-url and --alternate-url take the http:// or https:// address teammates reach the registry at, not ${url}`);
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0–65535, not ${values.port}`);
  const dataDir = resolve(values['data-dir']);

  if (command === 'invite list') {
    console.log(formatInviteList(new InviteAuthority(existingSecret(dataDir), dataDir).list()));
    return 0;
  }
  if (command === 'invite revoke') {
    if (positionals.length !== 1) throw new UsageError('invite revoke needs one invite: its id (from invite list), its link or its token');
    // Written to the data folder: a registry running on it reads it within a second (REVOCATION_POLL_MS).
    const revoked = await new InviteAuthority(existingSecret(dataDir), dataDir).revoke(positionals[0]!);
    console.log(
      `${revoked.alreadyRevoked ? 'already revoked' : 'revoked'}: invite ${revoked.id} to project ${revoked.project} (it would have expired ${new Date(revoked.expiresAt).toISOString()}).\n` +
        `A registry running with --data-dir ${dataDir} refuses it within a second (INVITE_REVOKED) and disconnects the consoles it admitted.`,
    );
    return 0;
  }
  if (command === 'invite') {
    if (!values.project) throw new UsageError('invite needs --project NAME');
    const authority = new InviteAuthority(loadOrCreateSecret(dataDir), dataDir);
    const maxUses = values['max-uses'] === undefined ? undefined : Number(values['max-uses']);
    const { token, invite } = await authority.issueRecorded({ project: values.project, ttlMs: parseDuration(values.ttl), maxUses });
    // The id goes to stderr: stdout is the link alone, for scripts.
    console.error(`invite ${invite.id} (revoke it with: wsp-registry invite revoke ${invite.id})`);
    // Several --public-url: one registry of several instances; the first is tried first, then the others.
    // Without --public-url, the address of a registry on this host; --tls-cert says it serves https.
    const [primary, ...alternates] = values['public-url'] ?? [`${values['tls-cert'] ? 'https' : 'http'}://${hostForUrl(values.host)}:${port}`];
    console.log(formatInviteLink(primary!, token, alternates));
    return 0;
  }

  if (Boolean(values['tls-cert']) !== Boolean(values['tls-key'])) throw new UsageError('--tls-cert and --tls-key go together: the certificate (chain) and its private key, both PEM');
  const tlsPaths = values['tls-cert'] && values['tls-key'] ? { cert: values['tls-cert'], key: values['tls-key'] } : undefined;
  const tls = tlsPaths && readTls(tlsPaths);
  const webRoot = values['web-root'] ?? defaultWebRoot();
  const turnSecret = values['turn-secret-file'] ? readFileSync(values['turn-secret-file'], 'utf8').trim() : (values['turn-secret'] ?? process.env.WSP_TURN_SECRET);
  const turnUrls = values['turn-url'] ?? [];
  // A wrong address would make every console's RTCPeerConnection throw: refused here, at the start.
  for (const [option, kind, urls] of [['--stun-url', 'stun', values['stun-url'] ?? []], ['--turn-url', 'turn', turnUrls]] as const) {
    for (const url of urls) {
      const problem = iceUrlProblem(url, kind);
      if (problem) throw new UsageError(`${option}: ${problem}`);
    }
  }
  if (turnUrls.length && !turnSecret) throw new UsageError('--turn-url needs --turn-secret, --turn-secret-file or WSP_TURN_SECRET (the coturn static-auth-secret)');
  const registry = await createRegistry({
    host: values.host,
    port,
    dataDir,
    stunUrls: values['no-stun'] ? [] : (values['stun-url'] ?? [DEFAULT_STUN_URL]),
    ...(turnUrls.length ? { turn: { urls: turnUrls, secret: turnSecret!, ttlSeconds: parseDuration(values['turn-ttl']) / 1000 } } : {}),
    ...(values.redis ? { redis: values.redis } : {}),
    ...(values['alternate-url'] ? { alternateUrls: values['alternate-url'] } : {}),
    limits: {
      ...(values.heartbeat ? { heartbeatMs: parseDuration(values.heartbeat) } : {}),
      ...(values['request-timeout'] ? { requestTimeoutMs: parseDuration(values['request-timeout']) } : {}),
      ...(values['auth-timeout'] ? { authTimeoutMs: parseDuration(values['auth-timeout']) } : {}),
      ...(values['max-unauthenticated'] ? { maxUnauthenticated: positiveInteger('--max-unauthenticated', values['max-unauthenticated']) } : {}),
      ...(values['max-unauthenticated-per-address']
        ? { maxUnauthenticatedPerAddress: positiveInteger('--max-unauthenticated-per-address', values['max-unauthenticated-per-address']) }
        : {}),
    },
    ...(values['allowed-host'] ? { allowedHosts: values['allowed-host'] } : {}),
    ...(values['allowed-origin'] ? { allowedOrigins: values['allowed-origin'].map((o) => origin('--allowed-origin', o)) } : {}),
    ...(values['trust-proxy'] ? { trustProxy: true } : {}),
    relayBudget: {
      ...(values['relay-pair-bytes-per-second'] ? { pairBytesPerSecond: positiveNumber('--relay-pair-bytes-per-second', values['relay-pair-bytes-per-second']) } : {}),
      ...(values['relay-project-bytes-per-second'] ? { projectBytesPerSecond: positiveNumber('--relay-project-bytes-per-second', values['relay-project-bytes-per-second']) } : {}),
      ...(values['relay-project-bytes-per-day'] ? { projectBytesPerDay: positiveNumber('--relay-project-bytes-per-day', values['relay-project-bytes-per-day']) } : {}),
    },
    ...(values['public-url']?.[0] ? { publicUrl: values['public-url'][0] } : {}),
    ...(webRoot ? { webRoot } : {}),
    ...(tls ? { tls } : {}),
  });
  console.log(`wsp-registry listening on ${registry.httpUrl} (signaling ${registry.url})`);
  if (tlsPaths) {
    // A renewed certificate (certbot, acme.sh) is picked up with `kill -HUP`; open connections keep
    // theirs. A bad pair is reported and the old one kept: the registry stays up.
    process.on('SIGHUP', () => {
      try {
        registry.setTls(readTls(tlsPaths));
        console.log(`wsp-registry: reloaded the TLS certificate from ${tlsPaths.cert}`);
      } catch (error) {
        console.error(`wsp-registry: kept the previous TLS certificate: ${(error as Error).message}`);
      }
    });
  }
  const stop = () => void registry.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return new Promise<number>(() => {}); // serve until a signal
}

/** The certificate and key files, checked to parse and to belong together (else a clear error). */
function readTls(paths: { cert: string; key: string }): TlsFiles {
  const read = (option: string, file: string) => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new UsageError(`${option} ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
    }
  };
  const files = { cert: read('--tls-cert', paths.cert), key: read('--tls-key', paths.key) };
  try {
    createSecureContext(files);
  } catch (error) {
    const message = (error as Error).message;
    const why = /key values mismatch/.test(message)
      ? `the key ${paths.key} is not the private key of the certificate ${paths.cert}`
      : `${paths.cert} and ${paths.key} must be a PEM certificate (chain) and its PEM private key (${message})`;
    throw new UsageError(`--tls-cert/--tls-key: ${why}`);
  }
  return files;
}

/** `::` → `[::]`: an IPv6 address in a URL is bracketed. */
function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** A data folder's secret; listing or revoking in a folder no registry used would only create one. */
function existingSecret(dataDir: string): Uint8Array {
  if (!existsSync(join(dataDir, SECRET_FILE))) throw new UsageError(`${dataDir} holds no registry data (no ${SECRET_FILE}): pass the registry's --data-dir`);
  return loadOrCreateSecret(dataDir);
}

/** The invites of `invite list`, one line each; the id is what `invite revoke` takes. */
function formatInviteList(invites: InviteSummary[]): string {
  if (!invites.length) return 'no unexpired invites were issued from this data folder';
  const rows = invites.map((i) => [
    i.id,
    i.project,
    new Date(i.issuedAt).toISOString().slice(0, 16).replace('T', ' '),
    new Date(i.expiresAt).toISOString().slice(0, 16).replace('T', ' '),
    i.maxUses ? `${i.uses}/${i.maxUses}` : 'unlimited',
    i.revoked ? 'revoked' : 'valid',
  ]);
  const table = [['ID', 'PROJECT', 'ISSUED (UTC)', 'EXPIRES (UTC)', 'USES', 'STATE'], ...rows];
  const widths = table[0]!.map((_, c) => Math.max(...table.map((row) => row[c]!.length)));
  return table.map((row) => row.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()).join('\n');
}

function positiveNumber(option: string, text: string): number {
  const value = Number(text);
  if (!(value > 0)) throw new UsageError(`${option} must be a positive number, not ${text}`);
  return value;
}

function positiveInteger(option: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new UsageError(`${option} must be a positive whole number, not ${text}`);
  return value;
}

/** `https://tools.example.org` (a page origin: scheme, host and port, nothing else). */
function origin(option: string, text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`${option} must be an origin such as https://tools.example.org, not ${text}`);
  }
  if (!url.host || (url.pathname !== '/' && url.pathname !== '') || url.search || url.hash || url.username || url.password) {
    throw new UsageError(`${option} must be an origin (scheme://host[:port], no path), not ${text}`);
  }
  return `${url.protocol}//${url.host}`;
}

/** The web console built next to this file (out/renderer), if it exists. */
function defaultWebRoot(): string | undefined {
  const candidate = resolve(__dirname, '../renderer');
  return existsSync(join(candidate, 'index.html')) ? candidate : undefined;
}

export class UsageError extends Error {}

const INVITE_OPTIONS = new Set(['project', 'ttl', 'max-uses']);
const OPTIONS_OF: Partial<Record<Command, ReadonlySet<string>>> = {
  invite: new Set(['host', 'port', 'data-dir', 'public-url', 'tls-cert', 'help', ...INVITE_OPTIONS]),
  'invite list': new Set(['data-dir', 'help']),
  'invite revoke': new Set(['data-dir', 'help']),
};

function optionApplies(command: Command, option: string): boolean {
  return OPTIONS_OF[command]?.has(option) ?? !INVITE_OPTIONS.has(option);
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}

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
