/**
 * Connects to PostgreSQL the way every store process does (a pool over Bun's built-in client,
 * wrapped by drizzle's bun-sql driver), and says which errors are the connection failing rather
 * than the statement (../failures.ts turns those into METADATA_UNAVAILABLE).
 */
import { SQL as BunSQL } from 'bun';
import { drizzle, type BunSQLDatabase } from 'drizzle-orm/bun-sql';
import { causes, type BackendFailure } from '../failures.ts';
import * as schema from './schema.ts';

export type PgDb = BunSQLDatabase<typeof schema> & { $client: BunSQL };

/** `application_name` of the store's connections (visible in pg_stat_activity). */
export const PG_APPLICATION_NAME = 'v1-registry';

export function openPg(url: string, options: { max: number; connectTimeout: number }): PgDb {
  const client = new BunSQL({
    url,
    max: options.max,
    connectionTimeout: options.connectTimeout,
    connection: { application_name: PG_APPLICATION_NAME },
  });
  return drizzle({ client, schema }) as PgDb;
}

/** Bun's own codes for a connection that closed, could not be opened, or timed out. */
const CLIENT_CONNECTION_CODES = new Set([
  'ERR_POSTGRES_CONNECTION_CLOSED',
  'ERR_POSTGRES_CONNECTION_FAILED',
  'ERR_POSTGRES_CONNECTION_REFUSED',
  'ERR_POSTGRES_CONNECTION_TIMEOUT',
  'ERR_POSTGRES_IDLE_TIMEOUT',
  'ERR_POSTGRES_LIFETIME_TIMEOUT',
]);
/** SQLSTATEs of a lost or refused connection: class 08, admin/crash shutdown, starting up. */
const SERVER_CONNECTION_STATE = /^(08[0-9A-Z]{3}|57P0[123])$/;

/**
 * How an error relates to the connection: `timeout` (a connection could not be opened in time),
 * `lost` (any other connection failure), or null (a real query error). Looks through drizzle's
 * `DrizzleQueryError` wrapper (`cause`) to Bun's `PostgresError` (`code`, SQLSTATE in `errno`).
 */
export function connectionFailure(error: unknown): 'timeout' | 'lost' | null {
  for (const e of causes(error)) {
    const { code, errno } = e as { code?: unknown; errno?: unknown };
    if (code === 'ERR_POSTGRES_CONNECTION_TIMEOUT') return 'timeout';
    if (typeof code === 'string' && CLIENT_CONNECTION_CODES.has(code)) return 'lost';
    if (typeof errno === 'string' && SERVER_CONNECTION_STATE.test(errno)) return 'lost';
  }
  return null;
}

/**
 * SQLSTATEs of a transaction the server rolled back whole to break a conflict with another one
 * (class 40: `40001` serialization failure, `40P01` deadlock detected): running it again is safe
 * and usually succeeds, the other transaction having gone on.
 */
const ROLLED_BACK_STATE = /^40(001|P01)$/;

/** Whether `error` is the server rolling a transaction back for a conflict (see ROLLED_BACK_STATE). */
function rolledBack(error: unknown): boolean {
  for (const e of causes(error)) {
    const { errno } = e as { errno?: unknown };
    if (typeof errno === 'string' && ROLLED_BACK_STATE.test(errno)) return true;
  }
  return false;
}

/**
 * A lost connection is retried once: after a failover or `pg_terminate_backend` the pool's idle
 * connections are dead, and the first use of each fails without the statement having run. So is
 * a transaction the server rolled back for a deadlock or a serialization conflict (a store
 * operation is one statement or one whole transaction, so nothing of it was kept); when that
 * happens again it is METADATA_UNAVAILABLE (503), not a 500. A connect timeout is not retried
 * (that would double the wait).
 */
export function pgFailure(error: unknown): BackendFailure {
  if (rolledBack(error)) return 'retry';
  const kind = connectionFailure(error);
  return kind === 'lost' ? 'retry' : kind === 'timeout' ? 'unavailable' : null;
}
