/**
 * Bounded concurrency for I/O over a list (S3 requests, folder listings): `fn` over `items`, at
 * most `limit` at a time, in order of start. Rejects with the first failure (the lanes already
 * running finish their current item and go on; nothing is cancelled).
 */
export async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}
