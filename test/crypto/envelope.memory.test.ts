// A 64 MiB round trip streamed through encrypt -> decrypt must not buffer the content: RSS growth stays bounded.
// (Memory only; no timing assertions.)
import { createHash, randomBytes } from 'node:crypto';
import { KEY_BLOCK_LENGTH } from '../../src/crypto/envelope/format.js';
import { decryptWithDek, encryptWithDek } from '../../src/crypto/envelope/stream.js';

const MiB = 1 << 20;

function* source(total: number, chunk: number, pattern: Uint8Array): Generator<Uint8Array> {
  for (let off = 0; off < total; off += chunk) {
    const start = off % pattern.length;
    yield pattern.subarray(start, start + Math.min(chunk, total - off));
  }
}

test('64 MiB streamed round trip: RSS growth < 64 MiB', async () => {
  const total = 64 * MiB;
  const pattern = new Uint8Array(randomBytes(4 * MiB)); // 64 KiB chunks cycle over this
  const dek = new Uint8Array(randomBytes(32));
  const h = createHash('sha256');
  for (const c of source(total, 64 * 1024, pattern)) h.update(c);
  const expectedHex = h.digest('hex');

  const before = process.memoryUsage().rss;
  let peak = before;
  const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);

  const enc = encryptWithDek(source(total, 64 * 1024, pattern), dek, randomBytes(KEY_BLOCK_LENGTH), { hashPlaintext: true });
  const actual = createHash('sha256');
  let n = 0;
  for await (const chunk of decryptWithDek(enc.stream, dek)) {
    actual.update(chunk);
    n += chunk.length;
    peak = Math.max(peak, process.memoryUsage().rss);
  }
  clearInterval(sample);

  expect(n).toBe(total);
  expect(actual.digest('hex')).toBe(expectedHex);
  const summary = await enc.summary;
  expect(summary.plaintextBytes).toBe(total);
  expect(Buffer.from(summary.plaintextSha256!).toString('hex')).toBe(expectedHex);
  const growth = peak - before;
  console.log(`64 MiB round trip: RSS before ${(before / MiB).toFixed(1)} MiB, peak growth ${(growth / MiB).toFixed(1)} MiB`);
  expect(growth).toBeLessThan(64 * MiB);
});
