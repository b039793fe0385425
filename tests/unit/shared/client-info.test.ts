/** The `client` descriptor of `hello` and `PeerInfo`: what a peer says it is (docs/PROTOCOL.md §4.1). */
import { describe, expect, it } from 'vitest';
import { encode } from '@msgpack/msgpack';
import { decodeClientFrame, decodeServerFrame, encodeFrame } from '../../../src-shared/protocol/codec';
import { PROTOCOL_VERSION, type ClientFrame, type PeerInfo } from '../../../src-shared/protocol/signaling';

const bytes = (length: number, fill = 7) => new Uint8Array(length).fill(fill);
const hello = (client?: unknown) => ({
  type: 'hello',
  protocol: PROTOCOL_VERSION,
  invite: 'header.payload.signature',
  display_name: 'build-bot',
  signing_key: bytes(32, 1),
  box_key: bytes(32, 2),
  box_key_sig: bytes(64, 3),
  ...(client === undefined ? {} : { client }),
  nonce_sig: bytes(64, 4),
});
const peer = (client?: unknown) => ({
  peer_id: 'a'.repeat(26),
  display_name: 'build-bot',
  signing_key: bytes(32, 1),
  box_key: bytes(32, 2),
  box_key_sig: bytes(64, 3),
  ...(client === undefined ? {} : { client }),
  joined_at: 1,
});

describe('client descriptor', () => {
  it('a hello and a PeerInfo carry it round trip; both stay valid without it (an older console)', () => {
    const agent = { kind: 'agent', software: 'build-bot', version: '0.1.0-rc.1+abc' } as const;
    const decoded = decodeClientFrame(encodeFrame(hello(agent) as ClientFrame));
    expect(decoded.ok && decoded.frame.type === 'hello' && decoded.frame.client).toEqual(agent);
    const older = decodeClientFrame(encodeFrame(hello() as ClientFrame));
    expect(older.ok && older.frame.type === 'hello' && 'client' in older.frame).toBe(false);
    const joined = decodeServerFrame(encode({ type: 'peer_joined', peer: peer({ kind: 'console', software: 'wsp-console', version: '0.1.0' }) }));
    expect(joined.ok && joined.frame.type === 'peer_joined' && (joined.frame.peer as PeerInfo).client?.kind).toBe('console');
  });

  it.each([
    ['an unknown kind', { kind: 'robot', software: 'x', version: '1' }, 'invalid hello: client.kind'],
    ['no software', { kind: 'agent', version: '1' }, 'invalid hello: client.software'],
    ['an empty software', { kind: 'agent', software: '', version: '1' }, 'client.software: software: 1–64 printable ASCII characters'],
    ['a software of 65 characters', { kind: 'agent', software: 'a'.repeat(65), version: '1' }, 'client.software: software: 1–64'],
    ['a software with a direction override', { kind: 'agent', software: 'bot\u202etob', version: '1' }, 'client.software'],
    ['a software with a newline', { kind: 'agent', software: 'bot\nconsole', version: '1' }, 'client.software'],
    ['a version of 33 characters', { kind: 'agent', software: 'bot', version: '1'.repeat(33) }, 'client.version: version: 1–32'],
    ['a version with a space', { kind: 'agent', software: 'bot', version: '1 beta' }, 'client.version'],
    ['nil instead of leaving it out', null, 'invalid hello: client'],
  ])('refuses %s with BAD_FRAME naming the field', (_what, client, message) => {
    const decoded = decodeClientFrame(encode(hello(client)));
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) {
      expect(decoded.code).toBe('BAD_FRAME');
      expect(decoded.message).toContain(message);
    }
  });

  it('accepts the limits exactly: 64 characters of software, 32 of version', () => {
    expect(decodeClientFrame(encode(hello({ kind: 'agent', software: 'a'.repeat(64), version: '1'.repeat(32) }))).ok).toBe(true);
  });

  it('a PeerInfo with a bad descriptor is a bad frame for the console too', () => {
    const decoded = decodeServerFrame(encode({ type: 'peer_joined', peer: peer({ kind: 'agent', software: 'bot', version: '' }) }));
    expect(decoded.ok).toBe(false);
  });
});
