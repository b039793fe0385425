/**
 * A throwaway certificate authority for tests of TLS (the registry's https/wss, coturn's TURN over
 * TLS), made with the openssl CLI: EC P-256 keys, valid for a day.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCa {
  dir: string;
  /** PEM file of the CA certificate, to trust. */
  certFile: string;
  cert: string;
  /** Issues a server certificate for these names and addresses (subjectAltName). */
  issue(name: string, altNames: { dns?: string[]; ip?: string[] }): IssuedCert;
}

export interface IssuedCert {
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
}

const openssl = (dir: string, ...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });

export function createTestCa(dir = mkdtempSync(join(tmpdir(), 'wsp-test-ca-'))): TestCa {
  openssl(dir, 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1',
    '-subj', '/CN=WSP test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  let serial = 0;
  return {
    dir,
    certFile: join(dir, 'ca.pem'),
    cert: readFileSync(join(dir, 'ca.pem'), 'utf8'),
    issue(name, altNames) {
      const base = `${name.replace(/[^a-z0-9.-]/gi, '_')}-${++serial}`;
      const san = [...(altNames.dns ?? []).map((d) => `DNS:${d}`), ...(altNames.ip ?? []).map((ip) => `IP:${ip}`)].join(',');
      writeFileSync(join(dir, `${base}.ext`), `subjectAltName=${san}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`);
      openssl(dir, 'req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${name}`);
      openssl(dir, 'x509', '-req', '-in', `${base}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', String(Date.now() * 100 + serial), '-days', '1', '-extfile', `${base}.ext`, '-out', `${base}.pem`);
      const certFile = join(dir, `${base}.pem`);
      const keyFile = join(dir, `${base}.key`);
      return { certFile, keyFile, cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
    },
  };
}
