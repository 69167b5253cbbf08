// `pie read --progress`: what it writes to stderr as the envelope arrives, on a terminal and not.
import { progress } from '../../src/cli/commands/records.js';

function stderr(isTTY: boolean): { text: () => string; stream: { isTTY: boolean; write(chunk: string | Uint8Array): boolean } } {
  let text = '';
  return { text: () => text, stream: { isTTY, write: (c) => ((text += String(c)), true) } };
}

test('not a terminal: a line per tenth reached, each once, then the end', () => {
  const err = stderr(false);
  const report = progress({ stderr: err.stream });
  for (const b of [5, 10, 12, 35, 36, 99, 100, 100]) report(b, 100);
  expect(err.text()).toBe('5 / 100 bytes\n10 / 100 bytes\n35 / 100 bytes\n99 / 100 bytes\n100 / 100 bytes\n');
});

test('not a terminal: everything in one chunk prints only the end', () => {
  const err = stderr(false);
  const report = progress({ stderr: err.stream });
  report(150_235, 150_235);
  expect(err.text()).toBe('150235 / 150235 bytes\n');
});

test('a terminal: one line rewritten in place, ended at the total', () => {
  const err = stderr(true);
  const report = progress({ stderr: err.stream });
  for (const b of [40, 80, 100]) report(b, 100);
  expect(err.text()).toBe('\r40 / 100 bytes\r80 / 100 bytes\r100 / 100 bytes\n');
});

test('an empty envelope ends at once', () => {
  const err = stderr(false);
  progress({ stderr: err.stream })(0, 0);
  expect(err.text()).toBe('0 / 0 bytes\n');
});
