/**
 * A clean browser console is part of "working": every page a browser test opens reports its
 * console errors, uncaught exceptions and Content-Security-Policy violations, and the test fails
 * on any it did not declare (tests/support/test.ts checks at the end of each test). CSP violations
 * are caught with `securitypolicyviolation` events too, because a blocked eval that the page
 * catches (a library probing whether it may eval) is not always a console message.
 */
import type { BrowserContext } from '@playwright/test';

export interface Noise {
  kind: 'console error' | 'uncaught error' | 'CSP violation';
  text: string;
  /** The page (or script) it came from. */
  where: string;
}

interface Expectation {
  pattern: RegExp;
  why: string;
  /** The test fails if nothing matched. */
  required: boolean;
}

/** What the pages of one test said, and what the test declared it provokes. */
export class PageNoise {
  private readonly noise: Noise[] = [];
  private readonly expectations: Expectation[] = [];

  /**
   * This test provokes messages matching `pattern` (say why): they are not failures, and the test
   * fails if none comes, so an expectation cannot outlive what it excuses.
   */
  expect(pattern: RegExp, why: string): void {
    this.expectations.push({ pattern, why, required: true });
  }

  /** Like `expect`, for what this test may or may not provoke depending on timing (say why). */
  allow(pattern: RegExp, why: string): void {
    this.expectations.push({ pattern, why, required: false });
  }

  record(noise: Noise): void {
    this.noise.push(noise);
  }

  /** What no expectation covers, and required expectations nothing matched. */
  problems(): string[] {
    const unexpected: string[] = [];
    const seen = new Set<Expectation>();
    for (const n of this.noise) {
      const line = `${n.kind}: ${n.text}${n.where ? ` (${n.where})` : ''}`;
      const match = this.expectations.find((e) => e.pattern.test(line));
      if (match) seen.add(match);
      else unexpected.push(line);
    }
    return [
      ...unexpected.map((line) => `unexpected ${line}`),
      ...this.expectations.filter((e) => e.required && !seen.has(e)).map((e) => `expected but not seen: ${e.pattern} (${e.why})`),
    ];
  }
}

/** The test now running (tests run one at a time in a worker), set by tests/support/test.ts. */
let current: PageNoise | undefined;

export function setCurrentPageNoise(noise: PageNoise | undefined): void {
  current = noise;
}

/** Where pages of a browser Playwright does not drive (Firefox, tests/support/firefox.ts) report. */
export function currentPageNoise(): PageNoise | undefined {
  return current;
}

const BINDING = '__wspReportCspViolation';

/** Runs in every frame before its scripts. */
function listenForCspViolations(binding: string): void {
  const report = (globalThis as unknown as Record<string, (text: string, where: string) => void>)[binding]!;
  document.addEventListener(
    'securitypolicyviolation',
    (e) => report(`${e.disposition} ${e.effectiveDirective} refused ${e.blockedURI || '(inline)'}${e.sample ? ` "${e.sample}"` : ''}`, e.sourceFile ? `${e.sourceFile}:${e.lineNumber}` : e.documentURI),
    true,
  );
}

/**
 * Reports what this context's pages say to the test running now. Outside a Playwright test that
 * uses tests/support/test.ts (a benchmark, the NAT lab) it does nothing and returns false.
 */
export async function watchPageNoise(context: BrowserContext): Promise<boolean> {
  const noise = current;
  if (!noise) return false;
  await context.exposeBinding(BINDING, (source, text: string, where: string) => noise.record({ kind: 'CSP violation', text, where: where || source.frame.url() }));
  await context.addInitScript(listenForCspViolations, BINDING);
  context.on('console', (message) => {
    if (message.type() !== 'error') return;
    const at = message.location();
    noise.record({ kind: 'console error', text: message.text(), where: at.url ? `${at.url}:${at.lineNumber}` : '' });
  });
  context.on('weberror', (error) => noise.record({ kind: 'uncaught error', text: error.error().stack ?? error.error().message, where: error.page()?.url() ?? '' }));
  return true;
}
