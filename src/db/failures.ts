/**
 * The one place where a backend's errors become catalogue errors, for every store (the contract
 * in meta.ts): a failure of the backend itself becomes `METADATA_UNAVAILABLE` (503, "retry
 * later") with the backend error as `cause`; any other error (a bug, a broken constraint) passes
 * unchanged and ends as a 500. Each backend says only which of its errors are which
 * (sqlite/client.ts, pg/client.ts).
 */
import { RegistryError } from '../errors.ts';

/**
 * How a backend error counts: `retry` (the connection died before the statement ran, or the
 * backend rolled the operation's transaction back for a conflict with another: running the whole
 * operation once more may succeed), `unavailable` (the backend cannot serve now), or null (an
 * error of the operation itself).
 */
export type BackendFailure = 'retry' | 'unavailable' | null;

export type FailureClassifier = (error: unknown) => BackendFailure;

/** An error and the errors it wraps (drizzle's `DrizzleQueryError` keeps the driver's as `cause`). */
export function* causes(error: unknown, depth = 5): Generator<Error> {
  for (let e = error, i = 0; i < depth && e instanceof Error; e = e.cause, i++) yield e;
}

function metadataUnavailable(cause: unknown): RegistryError {
  const error = new RegistryError('METADATA_UNAVAILABLE');
  error.cause = cause;
  return error;
}

/** The error to throw for `error`: METADATA_UNAVAILABLE for any backend failure, else itself. */
export function catalogueError(error: unknown, classify: FailureClassifier): unknown {
  return classify(error) === null ? error : metadataUnavailable(error);
}

/**
 * Runs one store operation (a statement or a whole transaction), once more after a `retry`
 * failure; what still fails is mapped by `catalogueError`.
 */
export async function runGuarded<T>(op: () => T | PromiseLike<T>, classify: FailureClassifier): Promise<T> {
  try {
    return await op();
  } catch (first) {
    if (classify(first) !== 'retry') throw catalogueError(first, classify);
  }
  try {
    return await op();
  } catch (second) {
    throw catalogueError(second, classify);
  }
}
