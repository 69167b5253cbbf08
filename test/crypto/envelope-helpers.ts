/** Helpers shared by the envelope suites. */
import { EnvelopeError, type EnvelopeErrorCode } from '../../src/crypto/envelope/index.js';

export async function collect(it: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of it) parts.push(c);
  return new Uint8Array(Buffer.concat(parts));
}

/** Awaits `p` (or runs `p()`), expecting an EnvelopeError with `code` (and a message matching `message`). */
export async function expectCode(p: Promise<unknown> | (() => unknown), code: EnvelopeErrorCode, message?: RegExp): Promise<EnvelopeError> {
  const err = await (typeof p === 'function' ? Promise.resolve().then(p) : p).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(EnvelopeError);
  expect((err as EnvelopeError).code).toBe(code);
  if (message) expect((err as EnvelopeError).message).toMatch(message);
  return err as EnvelopeError;
}
