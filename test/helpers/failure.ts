/** The RegistryError a promise rejects with; the test fails when it resolves or rejects with anything else. */
import { expect } from 'bun:test';
import { RegistryError } from '../../src/errors.ts';

export async function failure(p: Promise<unknown>): Promise<RegistryError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(RegistryError);
    return e as RegistryError;
  }
  throw new Error('expected a RegistryError, got success');
}
