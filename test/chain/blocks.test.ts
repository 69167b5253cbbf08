/**
 * Fabric block hashing (src/chain/devnet/blocks.ts): the DER encoder and header hash against DER written out by
 * hand, the data hash, and the common.Block layout (metadata entries, TRANSACTIONS_FILTER).
 */
import { createHash, randomBytes } from 'node:crypto';
import { common } from '@hyperledger/fabric-protos';
import {
  BLOCK_METADATA_ENTRIES,
  BlockError,
  BlockMetadataIndex,
  TxValidationCode,
  blockDataHash,
  blockHeaderBytes,
  blockHeaderHash,
  buildBlock,
  checkBlock,
  decodeBlock,
  derInteger,
  derLength,
  derOctetString,
  encodeBlock,
  transactionsFilter,
  twosComplementBytes,
} from '../../src/chain/devnet/blocks.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const fill = (byte: number, n: number): Uint8Array => new Uint8Array(n).fill(byte);

describe('DER', () => {
  test('INTEGER uses minimal two\'s-complement content', () => {
    const cases: Array<[bigint | number, string]> = [
      [0, '020100'],
      [1, '020101'],
      [127, '02017f'],
      [128, '02020080'],
      [255, '020200ff'],
      [256, '02020100'],
      [32767, '02027fff'],
      [32768, '0203008000'],
      [2 ** 53 - 1, '02071fffffffffffff'],
      [(1n << 63n) - 1n, '02087fffffffffffffff'],
      [1n << 63n, '0209008000000000000000'],
      [(1n << 64n) - 1n, '020900ffffffffffffffff'],
      [-1n, '0201ff'],
      [-128n, '020180'],
      [-129n, '0202ff7f'],
    ];
    for (const [v, want] of cases) expect(hex(derInteger(v))).toBe(want);
  });

  test('two\'s-complement bytes round-trip for random values of every size', () => {
    for (let bits = 1; bits <= 300; bits += 7) {
      for (const sign of [1n, -1n]) {
        const v = sign * BigInt('0x' + randomBytes(Math.ceil(bits / 8)).toString('hex'));
        const b = twosComplementBytes(v);
        // Decode as signed big-endian and compare; minimality: dropping the first byte must change the value.
        const asUnsigned = BigInt('0x' + hex(b));
        const decoded = b[0]! & 0x80 ? asUnsigned - (1n << BigInt(8 * b.length)) : asUnsigned;
        expect(decoded).toBe(v);
        if (b.length > 1) {
          const redundant = (b[0] === 0x00 && !(b[1]! & 0x80)) || (b[0] === 0xff && !!(b[1]! & 0x80));
          expect(redundant).toBe(false);
        }
      }
    }
  });

  test('lengths switch to the long form at 128', () => {
    expect(hex(derLength(0))).toBe('00');
    expect(hex(derLength(127))).toBe('7f');
    expect(hex(derLength(128))).toBe('8180');
    expect(hex(derLength(255))).toBe('81ff');
    expect(hex(derLength(256))).toBe('820100');
    expect(hex(derLength(70000))).toBe('83011170');
    expect(hex(derOctetString(fill(0xab, 200)).subarray(0, 4))).toBe('0481c8ab');
  });

  test('non-integral numbers are refused', () => {
    expect(() => derInteger(2 ** 60)).toThrow(BlockError);
    expect(() => derLength(-1)).toThrow(BlockError);
  });
});

describe('block header hash (Fabric protoutil.BlockHeaderBytes / BlockHeaderHash)', () => {
  test('empty header: SEQUENCE { INTEGER 0, OCTET STRING "", OCTET STRING "" }', () => {
    const der = blockHeaderBytes({ number: 0, previousHash: new Uint8Array(0), dataHash: new Uint8Array(0) });
    expect(hex(der)).toBe('3007' + '020100' + '0400' + '0400'); // content: 3 + 2 + 2 bytes
    expect(hex(blockHeaderHash({ number: 0, previousHash: new Uint8Array(0), dataHash: new Uint8Array(0) }))).toBe(sha(unhex('30070201000400 0400')));
  });

  test('block 1 with 32-byte hashes', () => {
    const prev = fill(0x11, 32);
    const data = fill(0x22, 32);
    const want = '3047' + '020101' + '0420' + '11'.repeat(32) + '0420' + '22'.repeat(32);
    expect(hex(blockHeaderBytes({ number: 1, previousHash: prev, dataHash: data }))).toBe(want);
    expect(hex(blockHeaderHash({ number: 1, previousHash: prev, dataHash: data }))).toBe(sha(unhex(want)));
  });

  test('block 128 needs a leading zero byte; 2^64-1 nine content bytes', () => {
    const prev = fill(0xaa, 32);
    const data = fill(0xbb, 32);
    expect(hex(blockHeaderBytes({ number: 128, previousHash: prev, dataHash: data }))).toBe(
      '3048' + '02020080' + '0420' + 'aa'.repeat(32) + '0420' + 'bb'.repeat(32),
    );
    expect(hex(blockHeaderBytes({ number: (1n << 64n) - 1n, previousHash: prev, dataHash: data }))).toBe(
      '304f' + '020900ffffffffffffffff' + '0420' + 'aa'.repeat(32) + '0420' + 'bb'.repeat(32),
    );
    expect(() => blockHeaderBytes({ number: 1n << 64n, previousHash: prev, dataHash: data })).toThrow(/outside uint64/);
    expect(() => blockHeaderBytes({ number: -1, previousHash: prev, dataHash: data })).toThrow(BlockError);
  });

  test('a long previous hash makes the SEQUENCE use the long length form', () => {
    const prev = fill(0x01, 100);
    const data = fill(0x02, 32);
    // content = 3 (INTEGER 5) + 2 + 100 + 2 + 32 = 139 = 0x8b
    expect(hex(blockHeaderBytes({ number: 5, previousHash: prev, dataHash: data }))).toBe(
      '30818b' + '020105' + '0464' + '01'.repeat(100) + '0420' + '02'.repeat(32),
    );
  });

  test('the header hash of a common.BlockHeader equals the one of its fields', () => {
    const h = new common.BlockHeader();
    h.setNumber(7);
    h.setPreviousHash(fill(3, 32));
    h.setDataHash(fill(4, 32));
    expect(hex(blockHeaderHash(h))).toBe(hex(blockHeaderHash({ number: 7, previousHash: fill(3, 32), dataHash: fill(4, 32) })));
  });
});

describe('common.Block', () => {
  test('data hash is SHA-256 of the concatenated data entries', () => {
    const a = unhex('0102');
    const b = unhex('030405');
    expect(hex(blockDataHash([a, b]))).toBe(sha(unhex('0102030405')));
    expect(hex(blockDataHash([]))).toBe(sha(new Uint8Array(0)));
  });

  test('buildBlock lays out header, data and 5 metadata entries with the filter at index 2', () => {
    const envs = [randomBytes(50), randomBytes(70), randomBytes(10)].map((b) => new Uint8Array(b));
    const codes = [TxValidationCode.VALID, TxValidationCode.MVCC_READ_CONFLICT, TxValidationCode.ENDORSEMENT_POLICY_FAILURE];
    const prev = fill(9, 32);
    const block = decodeBlock(encodeBlock(buildBlock({ number: 4, previousHash: prev, envelopes: envs, validationCodes: codes })));
    expect(block.getHeader()!.getNumber()).toBe(4);
    expect(hex(block.getHeader()!.getPreviousHash_asU8())).toBe(hex(prev));
    expect(hex(block.getHeader()!.getDataHash_asU8())).toBe(hex(blockDataHash(envs)));
    expect(block.getData()!.getDataList_asU8().map(hex)).toEqual(envs.map(hex));
    const meta = block.getMetadata()!.getMetadataList_asU8();
    expect(meta).toHaveLength(BLOCK_METADATA_ENTRIES);
    expect(BlockMetadataIndex.TRANSACTIONS_FILTER).toBe(2);
    expect([...meta[2]!]).toEqual([0, 11, 10]);
    expect([...transactionsFilter(block)]).toEqual([0, 11, 10]);
    expect(() => common.Metadata.deserializeBinary(meta[BlockMetadataIndex.SIGNATURES]!)).not.toThrow();
    expect(checkBlock(block, { number: 4, previousHash: prev })).toBeUndefined();
    expect(checkBlock(block, { number: 5 })).toMatch(/number is 4/);
    expect(checkBlock(block, { previousHash: fill(8, 32) })).toMatch(/previous_hash/);
  });

  test('validation codes default to VALID and must match the transaction count', () => {
    const envs = [new Uint8Array([1]), new Uint8Array([2])];
    expect([...transactionsFilter(buildBlock({ number: 0, previousHash: new Uint8Array(0), envelopes: envs }))]).toEqual([0, 0]);
    expect(() => buildBlock({ number: 1, previousHash: fill(1, 32), envelopes: envs, validationCodes: [0] })).toThrow(/1 validation codes for 2/);
    expect(() => buildBlock({ number: 1, previousHash: new Uint8Array(0), envelopes: envs })).toThrow(/32 bytes/);
    expect(() => buildBlock({ number: 0, previousHash: fill(1, 32), envelopes: envs })).toThrow(/empty for the genesis/);
    expect(() => buildBlock({ number: -1, previousHash: new Uint8Array(0), envelopes: [] })).toThrow(BlockError);
  });

  test('an altered data entry no longer matches the data hash', () => {
    const block = buildBlock({ number: 0, previousHash: new Uint8Array(0), envelopes: [new Uint8Array([1, 2, 3])] });
    block.getData()!.setDataList([new Uint8Array([1, 2, 4])]);
    expect(checkBlock(block)).toMatch(/data_hash/);
  });

  test('garbage does not decode as a block', () => {
    expect(() => decodeBlock(unhex('ffffffff'))).toThrow(BlockError);
  });
});
