/** toStorageError: what Helia, interface-store, libp2p and the filesystem throw, mapped to StorageError codes. */
import { NotFoundError, PutFailedError } from 'interface-store';
import { StorageError, toStorageError } from '../../src/storage/errors.js';

const named = (name: string, message = name): Error => Object.assign(new Error(message), { name });
const errno = (code: string): Error => Object.assign(new Error(`${code}: failed`), { code });

test.each([
  ['ENOSPC from fs', errno('ENOSPC'), 'NO_SPACE'],
  ['EDQUOT from fs', errno('EDQUOT'), 'NO_SPACE'],
  ['ENOSPC wrapped by blockstore-fs as text', new PutFailedError('Error: ENOSPC: no space left on device, write'), 'NO_SPACE'],
  ['ENOSPC as the cause', new Error('write failed', { cause: errno('ENOSPC') }), 'NO_SPACE'],
  ['interface-store NotFoundError', new NotFoundError('nope'), 'NOT_FOUND'],
  ['ENOENT', errno('ENOENT'), 'NOT_FOUND'],
  ['helia BlockNotFoundWhileOfflineError', named('BlockNotFoundWhileOfflineError'), 'NOT_FOUND'],
  ['helia LoadBlockFailedError', named('LoadBlockFailedError'), 'NOT_FOUND'],
  ['helia with no block brokers', named('InvalidConfigurationError', 'No block brokers capable of retrieving blocks are configured'), 'NOT_FOUND'],
  ['AbortError', named('AbortError'), 'ABORTED'],
  ['DOMException TimeoutError', named('TimeoutError'), 'ABORTED'],
  ['Node ABORT_ERR', errno('ABORT_ERR'), 'ABORTED'],
  ['libp2p InvalidMultihashError', named('InvalidMultihashError'), 'CORRUPT'],
  ['EACCES', errno('EACCES'), 'IO'],
  ['anything else', new Error('boom'), 'IO'],
  ['a thrown string', 'boom', 'IO'],
])('%s → %s', (_name, err, code) => {
  const e = toStorageError(err, { op: 'get', cid: 'bafyexample' });
  expect(e).toBeInstanceOf(StorageError);
  expect(e.code).toBe(code);
  expect(e.message).toContain('get bafyexample');
  expect(e.cause).toBe(err);
});

test('a StorageError passes through unchanged', () => {
  const original = new StorageError('CORRUPT', 'block x does not match');
  expect(toStorageError(original, { op: 'get' })).toBe(original);
  expect(original.name).toBe('StorageError');
});
