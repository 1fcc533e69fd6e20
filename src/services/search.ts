/** E20: repository search — paging and parameter rules here; matching and ranking are the store's (db/rules.ts searchQuery). */
import type { PrivateVisibility, SearchStore } from '../db/meta.ts';
import { RegistryError } from '../errors.ts';
import type { SearchResults } from '../routes/v1/search.model.ts';

const DEFAULT_PAGE_SIZE = 25;
const MAX_PAGE_SIZE = 100;

function positiveInt(raw: string | undefined, fallback: number, max: number): number {
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d{1,9}$/.test(raw)) throw new RegistryError('INVALID_SEARCH', `expected a positive integer, got ${JSON.stringify(raw.slice(0, 32))}`);
  const n = Number(raw);
  if (n < 1 || n > max) throw new RegistryError('INVALID_SEARCH', `expected a number from 1 to ${max}`);
  return n;
}

export class SearchService {
  constructor(private readonly meta: SearchStore) {}

  /** `visible`: which private repositories may be listed (token mode narrows it to the caller's). */
  async search(
    q: string | undefined,
    n: string | undefined,
    page: string | undefined,
    visible: PrivateVisibility = 'all',
  ): Promise<SearchResults> {
    const query = q ?? '';
    if (query.length > 256) throw new RegistryError('INVALID_SEARCH', 'query longer than 256 characters');
    const pageSize = positiveInt(n, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
    const pageNo = positiveInt(page, 1, 1_000_000);
    const { total, results } = await this.meta.search(query, pageSize, (pageNo - 1) * pageSize, visible);
    return {
      num_results: total,
      num_pages: Math.max(1, Math.ceil(total / pageSize)),
      page: pageNo,
      page_size: pageSize,
      query,
      results,
    };
  }
}
