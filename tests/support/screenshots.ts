/** Screenshots of the real run; `UPDATE_SCREENSHOTS=1` also refreshes the README's (docs/screenshots). */
import { expect, type Locator } from '@playwright/test';
import { resolve } from 'node:path';
import type { WebConsole } from './web-console';

export async function screenshot(w: WebConsole, name: string, size = { width: 1280, height: 800 }, part?: Locator): Promise<void> {
  await w.page.setViewportSize({ width: size.width, height: size.height });
  const dirs = ['.test-output/screenshots', ...(process.env.UPDATE_SCREENSHOTS === '1' ? ['docs/screenshots'] : [])];
  for (const dir of dirs) {
    const path = resolve(__dirname, '../..', dir, `${name}.png`);
    await (part ? part.screenshot({ path }) : w.page.screenshot({ path, fullPage: true }));
  }
}

export type Look = { scheme: 'light' | 'dark'; width: number; height: number };
export const LOOKS: Look[] = [
  { scheme: 'light', width: 1280, height: 800 },
  { scheme: 'dark', width: 1280, height: 800 },
  { scheme: 'light', width: 1920, height: 1080 },
  { scheme: 'dark', width: 1920, height: 1080 },
];

/** The same view in the light and dark themes (the console follows the OS) at 1280×800 and 1920×1080. */
export async function screenshots(w: WebConsole, name: string, looks = LOOKS, part?: Locator): Promise<void> {
  for (const look of looks) {
    await w.page.emulateMedia({ colorScheme: look.scheme });
    await expect(w.page.locator('html')).toHaveAttribute('data-theme', look.scheme);
    await screenshot(w, `${name}-${look.scheme}-${look.width}x${look.height}`, look, part);
  }
  await w.page.emulateMedia({ colorScheme: 'light' });
  await w.page.setViewportSize({ width: 1280, height: 800 });
}
