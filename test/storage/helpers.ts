// Shared by the storage tests.
import { StorageError } from '../../src/storage/index.js';

export async function readAll(it: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

/** The error a promise (or the iteration of an async iterable) ends with; fails the test if it succeeds. */
export async function failure(p: Promise<unknown> | AsyncIterable<unknown>): Promise<StorageError> {
  try {
    if (Symbol.asyncIterator in p) {
      for await (const _ of p as AsyncIterable<unknown>) {
        /* drain */
      }
    } else {
      await p;
    }
  } catch (e) {
    expect(e).toBeInstanceOf(StorageError);
    return e as StorageError;
  }
  throw new Error('expected a StorageError, got success');
}
