/**
 * Keeps docs/PROTOCOL.md honest: its error table, protocol version, frame types, default limits
 * and metric names must match the code.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERRORS, CLOSE_MESSAGE_TOO_BIG } from '../../../src-shared/protocol/errors';
import { PROTOCOL_VERSION, SIGNALING_PATH, MAX_SIGNAL_PAYLOAD_BYTES, clientFrameSchema, serverFrameSchema } from '../../../src-shared/protocol/signaling';
import { SIGNATURE_CONTEXT } from '../../../src-shared/identity';
import { DEFAULT_LIMITS } from '../../../src-main/registry/registry';
import { createMetrics } from '../../../src-main/registry/metrics';

const doc = readFileSync(join(__dirname, '../../../docs/PROTOCOL.md'), 'utf8');

/** The body of the section whose heading line matches `heading`, up to the next heading of the same or a higher level. */
function section(heading: RegExp): string {
  const lines = doc.split('\n');
  const start = lines.findIndex((line) => /^#{1,6} /.test(line) && heading.test(line));
  if (start < 0) throw new Error(`docs/PROTOCOL.md has no heading matching ${heading}`);
  const level = /^#+/.exec(lines[start]!)![0].length;
  const end = lines.findIndex((line, i) => i > start && new RegExp(`^#{1,${level}} `).test(line));
  return lines.slice(start + 1, end < 0 ? undefined : end).join('\n');
}

/** Table rows of a section, header and separator rows excluded. */
function tableRows(text: string): string[] {
  const rows = text.split('\n').filter((line) => line.startsWith('|'));
  return rows.filter((row, i) => !/^\|[\s|:-]+\|$/.test(row) && !/^\|[\s|:-]+\|$/.test(rows[i + 1] ?? ''));
}

/** The `type` literal of every option of a zod discriminated union on `type`. */
function frameTypes(schema: { options: readonly { shape: { type: { value: unknown } } }[] }): string[] {
  return schema.options.map((option) => String(option.shape.type.value));
}

describe('docs/PROTOCOL.md', () => {
  it('states the current protocol version in its header and the signaling path', () => {
    const header = doc.split('\n## ')[0]!;
    expect(header).toContain(`Protocol version ${PROTOCOL_VERSION}`);
    expect(doc).toContain(`\`${SIGNALING_PATH}\``);
    expect(doc).toContain(String(MAX_SIGNAL_PAYLOAD_BYTES));
    for (const context of Object.values(SIGNATURE_CONTEXT)) expect(doc).toContain(`\`${context}\``);
  });

  it('has an error table with exactly one row per ERRORS code and its close code', () => {
    const rows = tableRows(section(/^## .*Errors/));
    const parsed = rows.map((row) => {
      const match = /^\| `([A-Z_]+)` \| (\d+|—) \| (.+) \|$/.exec(row);
      if (!match) throw new Error(`malformed error-table row: ${row}`);
      return { code: match[1]!, close: match[2] === '—' ? null : Number(match[2]), meaning: match[3]!.trim() };
    });
    const codes = parsed.map((r) => r.code);
    expect(new Set(codes).size, 'duplicate rows').toBe(codes.length);
    expect(new Set(codes)).toEqual(new Set(Object.keys(ERRORS)));
    for (const { code, close, meaning } of parsed) {
      expect(close, `close code of ${code}`).toBe(ERRORS[code as keyof typeof ERRORS].close);
      expect(meaning.length, `meaning of ${code}`).toBeGreaterThan(0);
    }
  });

  it('documents the 1009 close for frames beyond the hard cap', () => {
    const errors = section(/^## .*Errors/);
    expect(errors).toContain(String(CLOSE_MESSAGE_TOO_BIG));
    expect(errors).toContain(String(DEFAULT_LIMITS.maxFrameBytes * 4));
  });

  it('has a section for every frame type, in each direction', () => {
    const directions = [
      { heading: /^### .*Console → registry/, types: frameTypes(clientFrameSchema) },
      { heading: /^### .*Registry → console/, types: frameTypes(serverFrameSchema) },
    ];
    for (const { heading, types } of directions) {
      expect(types.length).toBeGreaterThan(0);
      const headings = section(heading).split('\n').filter((line) => line.startsWith('#### '));
      for (const type of types) {
        expect(headings.some((h) => h.includes(`\`${type}\``)), `no section for ${type} under ${heading}`).toBe(true);
      }
    }
  });

  it('lists the default limits with their values', () => {
    const rows = tableRows(section(/^## .*Limits/));
    const documented = new Map(
      rows.flatMap((row) => {
        const match = /^\| `(\w+)` \| (\d+) \|/.exec(row);
        return match ? [[match[1]!, Number(match[2])] as const] : [];
      }),
    );
    expect(Object.fromEntries(documented)).toEqual({ ...DEFAULT_LIMITS });
  });

  it('names every registry metric', async () => {
    const names = (await createMetrics().registry.getMetricsAsJSON()).map((m) => m.name);
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) expect(doc).toContain(`\`${name}\``);
  });
});
