/**
 * How secrets are sealed at rest. In Electron this is `safeStorage` (OS keychain); where the OS
 * offers none (a headless Linux without a keyring), secrets are stored plain in a 0600 file and
 * the GUI says so. Kept as an interface so the stores run and are tested without Electron.
 */
export interface SecretCodec {
  /** Shown to the user, e.g. "OS keychain (safeStorage)". */
  readonly description: string;
  readonly encrypted: boolean;
  seal(plain: string): string;
  open(sealed: string): string;
}

export const plainFileCodec: SecretCodec = {
  description: 'a file readable only by you (no OS keychain available)',
  encrypted: false,
  seal: (plain) => plain,
  open: (sealed) => sealed,
};
