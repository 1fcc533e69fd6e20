/**
 * The HMAC secret that signs tokens: the configured `token_secret`, or one generated once and
 * kept in `<storage_path>/token.secret` (mode 0600). Creation is atomic, so workers starting at
 * the same moment agree: each writes its own temp file, hard-links it to the final name (which
 * fails if another got there first) and then everyone reads the final file.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const TOKEN_SECRET_FILE = 'token.secret';

export function tokenSecret(configured: string, storagePath: string): string {
  if (configured !== '') return configured;
  const file = join(storagePath, TOKEN_SECRET_FILE);
  const existing = readSecret(file);
  if (existing) return existing;
  mkdirSync(storagePath, { recursive: true });
  const temp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(temp, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(temp, 0o600);
  try {
    linkSync(temp, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  } finally {
    unlinkSync(temp);
  }
  const secret = readSecret(file);
  if (!secret) throw new Error(`token secret file ${file} is empty`);
  return secret;
}

function readSecret(file: string): string | null {
  try {
    return readFileSync(file, 'utf8').trim() || null;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}
