/** What the supervisor checks on the host before it starts workers: the port, and the sysctl. */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Logger } from '../log/logger.ts';

/**
 * Checks that nothing serves the port, as gunicorn's bind does (5 tries, 1 s apart). Without it a
 * stale reusePort listener of the same user would silently share the traffic. Returns the port
 * (resolved when 0 was asked for), or null.
 */
export async function probePort(hostname: string, port: number, log: Logger): Promise<number | null> {
  for (let attempt = 1; attempt <= 5; attempt++) {
    try {
      const probe = Bun.serve({ hostname, port, reusePort: false, fetch: () => new Response(null) });
      const bound = probe.port ?? port;
      probe.stop(true);
      return bound;
    } catch (e) {
      log.error(`Connection in use: ${hostname}:${port} (${(e as Error).message})`);
      if (attempt < 5) await Bun.sleep(1000);
    }
  }
  return null;
}

/**
 * Closing a worker's reusePort listener resets the connections still in its accept queue unless
 * net.ipv4.tcp_migrate_req is 1 (Linux ≥ 5.14, per network namespace); with it, reloads and
 * recycling lose no request. Turn it on where we may (`allowWrite`), and say so either way.
 */
export function checkMigrateReq(allowWrite: boolean, log: Logger): void {
  const path = '/proc/sys/net/ipv4/tcp_migrate_req';
  let value: string;
  try {
    value = readFileSync(path, 'utf8').trim();
  } catch {
    log.warning('net.ipv4.tcp_migrate_req is not available (Linux < 5.14?): a reload may reset queued connections');
    return;
  }
  if (value === '1') return log.info('net.ipv4.tcp_migrate_req=1: reloads keep queued connections');
  if (allowWrite) {
    try {
      writeFileSync(path, '1');
      return log.info('Set net.ipv4.tcp_migrate_req=1: reloads keep queued connections');
    } catch {
      // not allowed (not root, or a read-only /proc in a container): fall through to the warning
    }
  }
  log.warning(
    'net.ipv4.tcp_migrate_req=0: a reload or worker recycle may reset connections queued on the stopping worker; set it to 1 (sysctl, or --sysctl in a container)',
  );
}
