/**
 * The check every browser test runs at its end (tests/support/page-noise.ts): it must see what a
 * page says, or a clean run proves nothing.
 */
import { test, expect } from '../support/test';
import pino from 'pino';
import { createRegistry, type RegistryHandle } from '../../src-main/registry/registry';
import { WebConsole, WEB_ROOT, assertWebConsoleBuilt } from '../support/web-console';
import { PageNoise } from '../support/page-noise';

let registry: RegistryHandle | undefined;

test.beforeAll(assertWebConsoleBuilt);
test.afterEach(async () => {
  await registry?.close();
  registry = undefined;
});

test('a page’s console errors, uncaught errors and CSP violations (even a refused eval it catches) reach the test', async ({ browser, pageNoise }) => {
  pageNoise.expect(/^console error: a deliberate console error/, 'console.error');
  pageNoise.expect(/^uncaught error: Error: a deliberate uncaught error/, 'a throw nobody catches');
  pageNoise.expect(/^CSP violation: enforce script-src refused eval/, 'new Function under script-src \'self\', caught by the page');
  pageNoise.expect(/^CSP violation: enforce style-src-elem refused inline/, 'an inline <style> under style-src \'self\'');
  pageNoise.expect(/^console error: Applying inline style violates the following Content Security Policy directive 'style-src 'self''/, 'Chromium also logs the refused <style>');
  registry = await createRegistry({ webRoot: WEB_ROOT, logger: pino({ level: 'silent' }) });
  const web = await WebConsole.open(browser, `${registry.httpUrl}/`);
  await expect(web.status()).toBeVisible();
  await web.page.evaluate(() => {
    console.error('a deliberate console error');
    setTimeout(() => {
      throw new Error('a deliberate uncaught error');
    });
    // Later, from the page's own task: Playwright's evaluate itself may eval.
    setTimeout(() => {
      try {
        new Function('');
      } catch {
        // what a library probing for eval does
      }
    });
    const style = document.createElement('style');
    style.textContent = 'body { color: red; }';
    document.head.append(style);
  });
  await expect.poll(() => pageNoise.problems()).toEqual([]);
  await web.close();
});

test('what a test did not declare fails it, and so does a declared message that never came', () => {
  const noise = new PageNoise();
  noise.expect(/refused eval/, 'declared');
  noise.allow(/ERR_CONNECTION_REFUSED/, 'may come');
  noise.expect(/never said/, 'declared, never comes');
  noise.record({ kind: 'CSP violation', text: 'enforce script-src refused eval', where: 'http://x/a.js:1' });
  noise.record({ kind: 'console error', text: 'Failed to load resource: 404', where: 'http://x/favicon.ico:0' });
  expect(noise.problems()).toEqual([
    'unexpected console error: Failed to load resource: 404 (http://x/favicon.ico:0)',
    'expected but not seen: /never said/ (declared, never comes)',
  ]);
});
