/**
 * The scopes of a V2 token request (distribution's docs/spec/auth/scope.md), parsed: repository
 * names per the OCI Distribution grammar, a one-part name meaning `library/<name>` as in V1 and
 * `a/b/c` the RepoRef {a, b/c} (db/meta.ts). Pure.
 */
import type { RepoRef } from '../db/meta.ts';
import { RegistryError } from '../errors.ts';

const MAX_SCOPES = 32;
const MAX_NAME_LENGTH = 255;
/** The OCI Distribution name grammar (spec "Pulling manifests"). */
const COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const NAME = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
/** scope.md's resourcetype (`[a-z]*`), with digits and docker's `repository(plugin)` (ignored as unknown). */
const TYPE = /^[a-z0-9]+(?:\([a-z0-9]+\))?$/;
/** scope.md's action (`[a-z]*`), and `*`. */
const ACTION = /^(?:[a-z]*|\*)$/;

/** The canonical name a RepoRef has in scopes and tokens. */
export const scopeName = (ref: RepoRef) => `${ref.namespace}/${ref.name}`;

/** `busybox` → library/busybox, `a/b/c` → {a, b/c}. */
function refOf(name: string): RepoRef {
  const slash = name.indexOf('/');
  return slash < 0 ? { namespace: 'library', name } : { namespace: name.slice(0, slash), name: name.slice(slash + 1) };
}

type Wanted = { type: 'repository'; ref: RepoRef; actions: string[] } | { type: 'catalog'; actions: string[] };

const invalidScope = (why: string) => new RegistryError('V2_TOKEN_REQUEST_INVALID', `invalid_scope: ${why}`);

/**
 * One resource scope (scope.md "Resource Scope Grammar"): `<type>:<name>:<action>[,<action>]*`.
 * A scope that breaks the grammar is a 400: the token spec (token.md "Requesting a Token") only
 * says partial *access* is not an error; its OAuth2 side (oauth.md) defers to RFC 6749, whose
 * §5.2 answers a malformed scope with 400 `invalid_scope`. Unknown types are ignored (null).
 */
function parseScope(text: string): Wanted | null {
  const first = text.indexOf(':');
  const last = text.lastIndexOf(':');
  if (first <= 0 || first === last) throw invalidScope('expected <type>:<name>:<actions>');
  const type = text.slice(0, first);
  const name = text.slice(first + 1, last);
  const actions = text.slice(last + 1).split(',');
  if (!TYPE.test(type)) throw invalidScope('bad resource type');
  if (!actions.every((a) => ACTION.test(a))) throw invalidScope('bad action');
  if (type === 'repository') {
    if (name.length > MAX_NAME_LENGTH || !NAME.test(name)) throw invalidScope('bad repository name');
    return { type: 'repository', ref: refOf(name), actions };
  }
  if (type === 'registry' && name === 'catalog') return { type: 'catalog', actions };
  return null;
}

/** Every scope of the request (space-separated lists split), parsed; throws on a malformed one. */
export function parseScopes(scopes: readonly string[]): Wanted[] {
  const texts = scopes.flatMap((s) => s.split(' ')).filter((s) => s !== '');
  if (texts.length > MAX_SCOPES) throw invalidScope(`more than ${MAX_SCOPES} scopes`);
  return texts.map(parseScope).filter((w): w is Wanted => w !== null);
}
