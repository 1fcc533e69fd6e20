/** The model of the ping routes (ping.ts). */
import { t, type Static } from 'elysia';

const Ping = t.Object(
  {
    host: t.Optional(t.Array(t.String(), { description: 'OS type, host name, release, architecture (debug only)' })),
    launch: t.Optional(t.Array(t.String(), { description: 'Command line (debug only)' })),
    versions: t.Optional(
      t.Object({ bun: t.String(), registry: t.String() }, { description: 'Runtime and registry versions (debug only)' }),
    ),
  },
  { description: 'Empty object, or details when the registry runs with debug on' },
);

/** The `_ping` reply (ping.ts pingReply builds it). */
export type Ping = Static<typeof Ping>;

export const pingModels = { Ping };
