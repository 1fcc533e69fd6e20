/**
 * What every V2 route module shares: the repository of a request, the access check of token mode
 * (`V2Guard`, null in open mode), and the headers every V2 reply carries.
 */
import type { RepoRef } from '../../db/meta.ts';
import { v2RepoRef } from '../../services/names.ts';

export type V2Action = 'pull' | 'push' | 'delete';

/** What a request reaches: a repository, the catalog, or only the API root (any authenticated caller). */
export type V2Target = RepoRef | 'catalog' | 'base';

/** auth: token's check: resolves when the caller may do `actions` on `target`, else throws 401/403. */
export type V2Guard = (request: Request, target: V2Target, actions: V2Action[]) => Promise<void>;

/** Every V2 reply says which API it speaks (docker checks it on `GET /v2/`). */
export const API_VERSION = { 'docker-distribution-api-version': 'registry/2.0' } as const;

/** `Content-Length: 0`, for the body-less replies that state it. */
export const NO_BODY = { 'content-length': '0' } as const;

/** A reply without a body, with the V2 headers and `headers`. */
export const emptyReply = (status: number, headers: Record<string, string> = {}): Response =>
  new Response(null, { status, headers: { ...API_VERSION, ...headers } });

/** The repository of a route's `:name` (the decoded V2 name), checked against the spec's grammar. */
export const repositoryOf = (params: { name: string }): RepoRef => v2RepoRef(params.name);

/** `/v2/<name>` as the client named it, for Location headers. */
export const namePath = (params: { name: string }): string => `/v2/${params.name}`;

/** Runs the guard, if any. */
export async function check(guard: V2Guard | null, request: Request, target: V2Target, actions: V2Action[]): Promise<void> {
  if (guard) await guard(request, target, actions);
}

/** The `n` and `last` of a paged listing; n must be a non-negative integer. */
export function pageOf(query: { n?: string; last?: string }): { n?: number; last?: string } {
  const out: { n?: number; last?: string } = {};
  if (query.n !== undefined && query.n !== '') {
    if (!/^\d{1,9}$/.test(query.n)) return { n: Number.NaN };
    out.n = Number(query.n);
  }
  if (query.last) out.last = query.last;
  return out;
}
