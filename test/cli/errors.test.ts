// Exit codes and messages for every kind of error a `pie` command can end with (docs/cli.md).
import { describeError, EXIT, UsageError } from '../../src/cli/io.js';
import { PieApiError } from '../../src/client/client.js';
import { PieInputError, PieIntegrityError } from '../../src/client/errors.js';
import { KeystoreError } from '../../src/crypto/keystore.js';

describe('describeError', () => {
  it.each([
    ['UNAUTHENTICATED', EXIT.UNAUTHENTICATED],
    ['FORBIDDEN', EXIT.FORBIDDEN],
    ['NOT_FOUND', EXIT.NOT_FOUND],
    ['CONFLICT', EXIT.CONFLICT],
    ['UNAVAILABLE', EXIT.UNAVAILABLE],
    ['BAD_USER_INPUT', EXIT.BAD_USER_INPUT],
    ['INTERNAL', EXIT.UNEXPECTED],
    ['PAYLOAD_TOO_LARGE', EXIT.UNEXPECTED],
  ])('the node’s %s → %i, with the code in the message', (code, exit) => {
    expect(describeError(new PieApiError(code, 'what happened', 400))).toEqual({ exitCode: exit, message: `${code}: what happened` });
  });

  it('client-side checks: integrity 8, arguments 2', () => {
    expect(describeError(new PieIntegrityError('cfrag 1 does not verify'))).toEqual({ exitCode: 8, message: 'integrity check failed: cfrag 1 does not verify' });
    expect(describeError(new PieInputError('threshold: too high'))).toEqual({ exitCode: 2, message: 'threshold: too high' });
    expect(describeError(new UsageError('missing <emrId>'))).toEqual({ exitCode: 2, message: 'missing <emrId>' });
  });

  it('keystore: a wrong passphrase is 3 and says nothing more', () => {
    expect(describeError(new KeystoreError('WRONG_PASSPHRASE', 'AES-GCM authentication failed'))).toEqual({ exitCode: 3, message: 'wrong passphrase (or the keystore file was modified)' });
    expect(describeError(new KeystoreError('KEY_MISMATCH', 'keys do not derive the public keys')).exitCode).toBe(8);
    expect(describeError(new KeystoreError('IO', 'could not read /x')).exitCode).toBe(1);
  });

  it('network failures are 7, naming the socket error and the node', () => {
    const refused = Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }) });
    expect(describeError(refused, 'http://127.0.0.1:1')).toEqual({ exitCode: 7, message: 'cannot reach the node at http://127.0.0.1:1 (ECONNREFUSED)' });
    // an error of another realm (fetch's own) is recognised by its shape
    const foreign = { name: 'TypeError', message: 'fetch failed', cause: { name: 'Error', message: 'bad port' } };
    expect(describeError(foreign)).toEqual({ exitCode: 7, message: 'cannot reach the node (fetch failed)' });
  });

  it('argument parsing errors are usage; anything else is 1 with its message only', () => {
    const parse = Object.assign(new TypeError("Unknown option '--bogus'"), { code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' });
    expect(describeError(parse)).toEqual({ exitCode: 2, message: "Unknown option '--bogus'" });
    const other = describeError(new RangeError('out of range'));
    expect(other).toEqual({ exitCode: 1, message: 'RangeError: out of range' });
    expect(other.message).not.toMatch(/\n\s+at /);
  });
});
