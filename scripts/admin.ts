/**
 * `bun run admin -- <command>`: account administration for `auth: token`, and repository
 * deletion, on the database the server uses (STORAGE_PATH / REGISTRY_DB / REGISTRY_CONFIG, read
 * by loadConfig like the server).
 *
 *   user add NAME [--password P] [--email E] [--admin]
 *   user del NAME
 *   user passwd NAME [--password P]
 *   user admin NAME [--off]
 *   repo del NAME      a repository (V2 name grammar, or V1's `namespace/name`; one part means
 *                      `library/NAME`) with its tags, manifests and blob links, for both protocols;
 *                      the bytes stay in storage for garbage collection to reclaim
 *   gc [--dry-run] [--grace SECONDS] [--wait SECONDS] [--json]
 *                      garbage collection (services/gc.ts) on the server's database and storage,
 *                      while it serves: deletes what no tag or manifest reaches and was last used
 *                      more than the grace period ago (default: the `gc_grace` setting), prints
 *                      what it deleted and the bytes freed (a table, or the report as JSON);
 *                      --dry-run deletes nothing and prints what it would delete. One collector
 *                      runs at a time across nodes: when another holds the lease, it says who and
 *                      exits 1, or waits up to --wait seconds for it. A --grace below the servers'
 *                      gc_grace shortens what protects their pushes in flight.
 *
 * Without --password the password is read from standard input (one line) when it is not a
 * terminal; a password that starts with `-` is given as `--password=-…` (node:util parseArgs
 * takes `--password -x` for a missing value). Exit status: 0 done, 1 refused (unknown user, taken
 * name, invalid data, another collector running), 2 usage.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/load.ts';
import { describeMetaStore, openMetaStore } from '../src/db/open.ts';
import { isRegistryError } from '../src/errors.ts';
import type { RepoRef } from '../src/db/meta.ts';
import { createAccount, setPassword } from '../src/services/accounts.ts';
import { GarbageCollector, type GcReport } from '../src/services/gc.ts';
import { repoRef, v2RepoRef } from '../src/services/names.ts';
import { createStorage, storageConfigOf } from '../src/storage/factory.ts';

const USAGE = `usage: bun run admin -- user add NAME [--password P] [--email E] [--admin]
       bun run admin -- user del NAME
       bun run admin -- user passwd NAME [--password P]
       bun run admin -- user admin NAME [--off]
       bun run admin -- repo del NAME
       bun run admin -- gc [--dry-run] [--grace SECONDS] [--wait SECONDS] [--json]`;

class UsageError extends Error {}
class Refused extends Error {}

type Flags = Record<string, string | boolean | undefined>;

/** The options of `argv` (those in `valued` take a value, `booleans` none) and its positionals. */
function parse(argv: string[], valued: string[], booleans: string[]): { positional: string[]; flags: Flags } {
  const options = Object.fromEntries([
    ...valued.map((name) => [name, { type: 'string' as const }]),
    ...booleans.map((name) => [name, { type: 'boolean' as const }]),
  ]);
  try {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return { positional: positionals, flags: values };
  } catch (e) {
    // parseArgs' own errors (unknown option, missing value) are usage errors; their first line says which
    if ((e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS_')) throw new UsageError((e as Error).message.split('\n')[0]!);
    throw e;
  }
}

async function passwordFrom(flags: Flags): Promise<string> {
  const flag = flags.password;
  if (typeof flag === 'string') return flag;
  if (process.stdin.isTTY) throw new UsageError('--password is required');
  const text = await Bun.stdin.text();
  const line = text.split(/\r?\n/)[0] ?? '';
  if (line === '') throw new UsageError('--password is required (or one line on standard input)');
  return line;
}

/** A repository named as V2 names it, else as V1 does (`namespace/name`, any characters). */
function repositoryNamed(name: string): RepoRef {
  try {
    return v2RepoRef(name);
  } catch {
    const slash = name.indexOf('/');
    if (slash === -1) return repoRef('library', name);
    return repoRef(name.slice(0, slash), name.slice(slash + 1));
  }
}

async function deleteRepository(argv: string[], out: (line: string) => void): Promise<void> {
  const [command, ...rest] = argv;
  if (command !== 'del') throw new UsageError(`unknown command: repo ${command ?? ''}`.trim());
  const { positional } = parse(rest, [], []);
  if (positional.length !== 1) throw new UsageError('repo del takes exactly one NAME');
  const ref = repositoryNamed(positional[0]!);
  const meta = await openMetaStore(loadConfig(), { migrate: true });
  try {
    if (!(await meta.deleteRepository(ref))) throw new Refused(`no repository ${ref.namespace}/${ref.name}`);
    out(`repository ${ref.namespace}/${ref.name} deleted (its tags, manifests and blob links; the bytes stay for garbage collection)`);
  } finally {
    meta.close();
  }
}

/** A non-negative whole number of seconds from an option, or `fallback` when absent. */
function seconds(flags: Flags, name: string, fallback: number): number {
  const value = flags[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !/^\d{1,9}$/.test(value)) throw new UsageError(`--${name} takes a whole number of seconds`);
  return Number(value);
}

const bytesText = (n: number) => (n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KiB` : n < 1024 ** 3 ? `${(n / 1024 ** 2).toFixed(1)} MiB` : `${(n / 1024 ** 3).toFixed(2)} GiB`);

/** The report as a table, then one line per item. */
function printReport(r: GcReport, grace: number, out: (line: string) => void): void {
  const verb = r.dryRun ? 'would delete' : 'deleted';
  out(`garbage collection${r.dryRun ? ' (dry run: nothing deleted)' : ''}: grace ${grace} s, cut-off ${new Date(r.cutoff).toISOString()}`);
  const rows: [string, string][] = [
    ['images', String(r.images.length)],
    ['blobs', String(r.blobs.length)],
    ['uploads', String(r.uploads.length)],
    ['objects', `${r.keys.length} (${r.orphans} no row named)`],
    ['bytes freed', `${r.bytes} (${bytesText(r.bytes)})`],
    ['kept', `${r.kept.images} images, ${r.kept.blobs} blobs`],
    ['spared', `${r.spared} (taken back by a push during the run)`],
    ['took', `${r.durationMs} ms`],
  ];
  out(`  ${'what'.padEnd(12)} ${verb}`);
  for (const [k, v] of rows) out(`  ${k.padEnd(12)} ${v}`);
  if (r.aborted) out('  aborted: the lease was lost during the run (run again)');
  for (const id of r.images) out(`image   ${id}`);
  for (const digest of r.blobs) out(`blob    ${digest}`);
  for (const id of r.uploads) out(`upload  ${id}`);
  for (const k of r.keys) out(`object  ${k.key} ${k.bytes}`);
}

async function collectGarbage(argv: string[], out: (line: string) => void): Promise<void> {
  const { positional, flags } = parse(argv, ['grace', 'wait'], ['dry-run', 'json']);
  if (positional.length > 0) throw new UsageError(`gc takes no NAME (got ${positional[0]})`);
  const config = loadConfig();
  const grace = seconds(flags, 'grace', config.gc_grace);
  const deadline = Date.now() + seconds(flags, 'wait', 0) * 1000;
  const meta = await openMetaStore(config, { migrate: true });
  try {
    const collector = new GarbageCollector(meta, createStorage(storageConfigOf(config)));
    for (let waited = false; ; waited = true) {
      const outcome = await collector.collect({ grace, dryRun: flags['dry-run'] === true });
      if (outcome.ran) {
        if (flags.json === true) out(JSON.stringify({ grace, ...outcome.report }));
        else printReport(outcome.report, grace, out);
        return;
      }
      const busy = `another collector (${outcome.holder}) holds the lease until ${new Date(outcome.expiresAt).toISOString()}`;
      if (Date.now() >= deadline) throw new Refused(`gc skipped: ${busy}`);
      if (!waited) console.error(`gc waiting: ${busy}`);
      await Bun.sleep(Math.min(1000, Math.max(0, deadline - Date.now())));
    }
  } finally {
    meta.close();
  }
}

async function run(argv: string[], out: (line: string) => void): Promise<void> {
  const [group, command, ...rest] = argv;
  if (group === 'repo') return deleteRepository(argv.slice(1), out);
  if (group === 'gc') return collectGarbage(argv.slice(1), out);
  if (group !== 'user' || !command) throw new UsageError('expected: user add|del|passwd|admin NAME, repo del NAME, or gc');
  const spec: Record<string, { valued: string[]; booleans: string[] }> = {
    add: { valued: ['password', 'email'], booleans: ['admin'] },
    del: { valued: [], booleans: [] },
    passwd: { valued: ['password'], booleans: [] },
    admin: { valued: [], booleans: ['off'] },
  };
  const options = spec[command];
  if (!options) throw new UsageError(`unknown command: user ${command}`);
  const { positional, flags } = parse(rest, options.valued, options.booleans);
  if (positional.length !== 1) throw new UsageError(`user ${command} takes exactly one NAME`);
  const name = positional[0]!;

  const config = loadConfig();
  const path = describeMetaStore(config);
  const meta = await openMetaStore(config, { migrate: true });
  try {
    switch (command) {
      case 'add': {
        const email = flags.email;
        const admin = flags.admin === true;
        const created = await createAccount(meta, {
          username: name,
          password: await passwordFrom(flags),
          email: typeof email === 'string' ? email : `${name}@localhost`,
          admin,
        });
        if (!created) throw new Refused(`user ${name} already exists`);
        out(`user ${name} created${admin ? ' (admin)' : ''} in ${path}`);
        break;
      }
      case 'del':
        if (!(await meta.deleteUser(name))) throw new Refused(`no user ${name}`);
        out(`user ${name} deleted`);
        break;
      case 'passwd':
        if (!(await meta.getUser(name))) throw new Refused(`no user ${name}`);
        if (!(await setPassword(meta, name, await passwordFrom(flags)))) throw new Refused(`no user ${name}`);
        out(`password of ${name} changed`);
        break;
      case 'admin': {
        const on = flags.off !== true;
        if (!(await meta.setUserAdmin(name, on))) throw new Refused(`no user ${name}`);
        out(`user ${name} is ${on ? 'now' : 'no longer'} an admin`);
        break;
      }
    }
  } finally {
    meta.close();
  }
}

try {
  await run(process.argv.slice(2), (line) => console.log(line));
} catch (e) {
  if (e instanceof UsageError) {
    console.error(`error: ${e.message}\n${USAGE}`);
    process.exit(2);
  }
  if (e instanceof Refused || isRegistryError(e)) {
    console.error(`error: ${e.message}`);
    process.exit(1);
  }
  console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
