import { describe, expect, it } from 'vitest';
import { z } from '../../../src-shared/zod';
import { ChannelRouter } from '../../../src-renderer/engine/channels';

const pingSchema = z.object({ t: z.literal('ping'), n: z.number() });
const fileSchema = z.object({ t: z.string().startsWith('file-'), sha: z.string() });

function router() {
  const r = new ChannelRouter();
  const got: string[] = [];
  const invalid: string[] = [];
  r.register({ name: 'ping', types: ['ping'], schema: pingSchema, handle: (peer, m) => got.push(`ping ${peer} ${m.n}`), invalid: (peer, t, issue) => invalid.push(`${peer} ${t} ${issue}`) });
  r.register({ name: 'files', types: { prefix: 'file-' }, schema: fileSchema, handle: (peer, m) => got.push(`${m.t} ${peer} ${m.sha}`) });
  return { r, got, invalid };
}

describe('application channels on the links', () => {
  it('each message goes once to the channel owning its type, as its schema parsed it', () => {
    const { r, got } = router();
    expect(r.dispatch('p1', { t: 'ping', n: 1 })).toBe(true);
    expect(r.dispatch('p2', { t: 'file-get', sha: 'ab' })).toBe(true);
    expect(r.dispatch('p2', { t: 'file-have', sha: 'cd' })).toBe(true);
    expect(got).toEqual(['ping p1 1', 'file-get p2 ab', 'file-have p2 cd']);
    expect(r.stats()).toEqual({ unrouted: 0, invalid: 0, unroutedTypes: {} });
  });

  it('a message no channel owns reaches no handler and is counted by type', () => {
    const { r, got } = router();
    expect(r.dispatch('p1', { t: 'ws-hello' })).toBe(false);
    expect(r.dispatch('p1', { t: 'ws-hello' })).toBe(false);
    expect(r.dispatch('p1', { seq: 1 })).toBe(false);
    expect(r.dispatch('p1', null)).toBe(false);
    expect(r.dispatch('p1', 'ping')).toBe(false);
    expect(got).toEqual([]);
    expect(r.stats()).toEqual({ unrouted: 5, invalid: 0, unroutedTypes: { 'ws-hello': 2, '(no type)': 3 } });
  });

  it('a message its schema refuses goes to the channel’s invalid handler, never to its handler', () => {
    const { r, got, invalid } = router();
    r.dispatch('p1', { t: 'ping', n: 'one' });
    r.dispatch('p1', { t: 'file-get' }); // the files channel has no invalid handler: counted only
    expect(got).toEqual([]);
    expect(invalid).toEqual([expect.stringMatching(/^p1 ping n: .+/)]);
    expect(r.stats().invalid).toBe(2);
  });

  it('every type has one owner: overlapping channels are refused when registered; a closed channel frees its types', () => {
    const { r } = router();
    const any = z.object({ t: z.string() });
    expect(() => r.register({ name: 'again', types: ['ping'], schema: any, handle: () => undefined })).toThrow(/ping is channel ping's/);
    expect(() => r.register({ name: 'narrower', types: { prefix: 'file-x' }, schema: any, handle: () => undefined })).toThrow(/overlaps channel files/);
    expect(() => r.register({ name: 'broader', types: { prefix: 'f' }, schema: any, handle: () => undefined })).toThrow(/overlaps channel files/);
    expect(() => r.register({ name: 'inside', types: ['file-get'], schema: any, handle: () => undefined })).toThrow(/is channel files's/);
    expect(() => r.register({ name: 'all', types: { prefix: '' }, schema: any, handle: () => undefined })).toThrow(/every message/);
    const r2 = new ChannelRouter();
    const close = r2.register({ name: 'ping', types: ['ping'], schema: pingSchema, handle: () => undefined });
    close();
    expect(r2.dispatch('p', { t: 'ping', n: 1 })).toBe(false);
    r2.register({ name: 'ping again', types: ['ping'], schema: pingSchema, handle: () => undefined });
    expect(r2.dispatch('p', { t: 'ping', n: 1 })).toBe(true);
  });
});
