/** Tag metadata built from the pushing client's User-Agent (v1-api.md §5). Pure. */
import type { TagMetadata } from '../routes/v1/repositories.model.ts';

/** `name/value` tokens of a User-Agent, e.g. `docker/1.0 go/go1.2` → {docker: '1.0', go: 'go1.2'}. */
export function userAgentTokens(userAgent: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of userAgent.matchAll(/([^\s/]+)\/([^\s/]+)/g)) {
    const [, k, v] = m;
    if (k && v && !out.has(k.toLowerCase())) out.set(k.toLowerCase(), v);
  }
  return out;
}

export function tagMetadata(userAgent: string, now: Date = new Date()): TagMetadata {
  const t = userAgentTokens(userAgent);
  const meta: TagMetadata = { last_update: Math.floor(now.getTime() / 1000) };
  const arch = t.get('arch');
  const kernel = t.get('kernel');
  const os = t.get('os');
  const docker = t.get('docker');
  const go = t.get('go');
  if (arch) meta.arch = arch.toLowerCase();
  if (docker) meta.docker_version = docker;
  if (go) meta.docker_go_version = go;
  if (kernel) meta.kernel = kernel.toLowerCase();
  if (os) meta.os = os.toLowerCase();
  return meta;
}

/** The reply for a repository or tag with no stored metadata (E17, E18). */
export const DEFAULT_REPOSITORY_JSON = Object.freeze({
  arch: 'amd64',
  docker_go_version: null,
  docker_version: null,
  kernel: null,
  last_update: null,
  os: 'linux',
});

/**
 * True when a User-Agent names a Docker daemon older than 0.10 (E4). The original compared
 * character tuples, so dotted versions were never checked (QUIRK); we compare numerically.
 */
export function dockerTooOld(userAgent: string | null | undefined): boolean {
  if (!userAgent) return false;
  const v = userAgentTokens(userAgent).get('docker');
  if (!v) return false;
  const m = /^(\d+)\.(\d+)/.exec(v.split('-')[0] ?? '');
  if (!m) return false;
  const major = Number(m[1]);
  const minor = Number(m[2]);
  return major === 0 && minor < 10;
}
