/**
 * Fabric blocks for the embedded dev network: the header hash exactly as Fabric computes it
 * (protoutil.BlockHeaderHash), the data hash, and `common.Block` messages built with @hyperledger/fabric-protos.
 *
 *   header hash = SHA-256( DER SEQUENCE { INTEGER number, OCTET STRING previous_hash, OCTET STRING data_hash } )
 *   data hash   = SHA-256( data[0] ‖ data[1] ‖ … )           (each data entry is a serialized common.Envelope)
 *   metadata    = 5 entries, indexed by common.BlockMetadataIndex; TRANSACTIONS_FILTER (2) holds one
 *                 peer.TxValidationCode byte per transaction, in data order.
 *
 * The tiny DER encoder here is also used by msp.ts for ECDSA signatures.
 */
import { createHash } from 'node:crypto';
import { common, peer } from '@hyperledger/fabric-protos';
import { concatBytes } from '@noble/hashes/utils.js';
import { bytesEqual } from '../../bytes.js';
import { CodedError } from '../../errors.js';

export type BlockErrorCode =
  /** A caller-supplied value is out of range or of the wrong shape (negative number, hash of wrong length, …). */
  | 'INVALID_ARGUMENT'
  /** Bytes that should be a block (or a DER structure) cannot be decoded. */
  | 'MALFORMED';

export class BlockError extends CodedError<BlockErrorCode> {
  override readonly name = 'BlockError';
}

/** Fabric's transaction validation codes (peer.TxValidationCode): VALID = 0, MVCC_READ_CONFLICT = 11, … */
export const TxValidationCode = peer.TxValidationCode;
export type TxValidationCodeValue = (typeof peer.TxValidationCode)[keyof typeof peer.TxValidationCode];

/** Fabric's block metadata indexes: SIGNATURES 0, LAST_CONFIG 1, TRANSACTIONS_FILTER 2, ORDERER 3, COMMIT_HASH 4. */
export const BlockMetadataIndex = common.BlockMetadataIndex;
/** Number of metadata entries Fabric's protoutil.NewBlock creates (len(BlockMetadataIndex_name)). */
export const BLOCK_METADATA_ENTRIES = 5;

// ---------------------------------------------------------------------------------------------------------------
// DER (only what Fabric's header hash and ECDSA signatures need)
// ---------------------------------------------------------------------------------------------------------------

/** DER definite length: short form below 128, else 0x80|n followed by n big-endian bytes. */
export function derLength(len: number): Uint8Array {
  if (!Number.isSafeInteger(len) || len < 0) throw new BlockError('INVALID_ARGUMENT', `DER length ${len} is not a non-negative integer`);
  if (len < 0x80) return Uint8Array.of(len);
  const bytes: number[] = [];
  for (let v = len; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

function tlv(tag: number, content: Uint8Array): Uint8Array {
  const len = derLength(content.length);
  const out = new Uint8Array(1 + len.length + content.length);
  out[0] = tag;
  out.set(len, 1);
  out.set(content, 1 + len.length);
  return out;
}

/** Minimal two's-complement big-endian bytes of an integer (0 → 00, 127 → 7f, 128 → 00 80, -1 → ff, -129 → ff 7f). */
export function twosComplementBytes(value: bigint): Uint8Array {
  const bytes: number[] = [];
  let v = value;
  // Emit bytes until the remaining value is pure sign extension of the last byte's top bit.
  for (;;) {
    const b = Number(BigInt.asUintN(8, v));
    bytes.unshift(b);
    v >>= 8n;
    if ((v === 0n && (b & 0x80) === 0) || (v === -1n && (b & 0x80) !== 0)) break;
  }
  return Uint8Array.from(bytes);
}

/** DER INTEGER (tag 0x02) with the minimal two's-complement content, as Go's encoding/asn1 writes a *big.Int. */
export function derInteger(value: bigint | number): Uint8Array {
  if (typeof value === 'number' && !Number.isSafeInteger(value)) {
    throw new BlockError('INVALID_ARGUMENT', `DER INTEGER ${value} is not a safe integer; pass a bigint`);
  }
  return tlv(0x02, twosComplementBytes(BigInt(value)));
}

/** DER OCTET STRING (tag 0x04). */
export function derOctetString(bytes: Uint8Array): Uint8Array {
  return tlv(0x04, bytes);
}

/** DER SEQUENCE (tag 0x30) of already-encoded elements. */
export function derSequence(...elements: Uint8Array[]): Uint8Array {
  return tlv(0x30, concatBytes(...elements));
}

export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

// ---------------------------------------------------------------------------------------------------------------
// Header and data hashes
// ---------------------------------------------------------------------------------------------------------------

export interface HeaderFields {
  number: bigint | number;
  previousHash: Uint8Array;
  dataHash: Uint8Array;
}

const UINT64_MAX = (1n << 64n) - 1n;

/** Fabric's protoutil.BlockHeaderBytes: the DER that the header hash is taken over. */
export function blockHeaderBytes(h: HeaderFields): Uint8Array {
  const n = BigInt(h.number);
  if (n < 0n || n > UINT64_MAX) throw new BlockError('INVALID_ARGUMENT', `block number ${n} is outside uint64`);
  return derSequence(derInteger(n), derOctetString(h.previousHash), derOctetString(h.dataHash));
}

/** Fabric's protoutil.BlockHeaderHash. Accepts plain fields or a common.BlockHeader. */
export function blockHeaderHash(h: HeaderFields | common.BlockHeader): Uint8Array {
  // Duck-typed: with jest's module registry a decoded header need not be an instance of this copy's class.
  return sha256(blockHeaderBytes('getNumber' in h ? headerFields(h) : h));
}

/** Fabric's protoutil.ComputeBlockDataHash: SHA-256 over the concatenation of the data entries. */
export function blockDataHash(data: readonly Uint8Array[]): Uint8Array {
  return sha256(...data);
}

export function headerFields(h: common.BlockHeader): HeaderFields {
  return { number: h.getNumber(), previousHash: h.getPreviousHash_asU8(), dataHash: h.getDataHash_asU8() };
}

// ---------------------------------------------------------------------------------------------------------------
// Building and reading common.Block
// ---------------------------------------------------------------------------------------------------------------

export interface NewBlock {
  /** Block number; 0 for the genesis block. */
  number: number;
  /** Header hash of the previous block; empty for block 0. */
  previousHash: Uint8Array;
  /** The block's data entries: serialized common.Envelope bytes, one per transaction. */
  envelopes: readonly Uint8Array[];
  /** One validation code per envelope (TRANSACTIONS_FILTER); defaults to all VALID. */
  validationCodes?: readonly number[];
}

/** Builds a common.Block as Fabric's committer stores it: header, data, and 5 metadata entries with the filter at 2. */
export function buildBlock(b: NewBlock): common.Block {
  if (!Number.isSafeInteger(b.number) || b.number < 0) {
    throw new BlockError('INVALID_ARGUMENT', `block number ${b.number} must be a non-negative safe integer`);
  }
  if (b.number === 0 ? b.previousHash.length !== 0 : b.previousHash.length !== 32) {
    throw new BlockError(
      'INVALID_ARGUMENT',
      `block ${b.number}: previous hash must be ${b.number === 0 ? 'empty for the genesis block' : '32 bytes'}, got ${b.previousHash.length}`,
    );
  }
  const codes = b.validationCodes ?? b.envelopes.map(() => TxValidationCode.VALID);
  if (codes.length !== b.envelopes.length) {
    throw new BlockError('INVALID_ARGUMENT', `block ${b.number}: ${codes.length} validation codes for ${b.envelopes.length} transactions`);
  }
  for (const c of codes) {
    if (!Number.isInteger(c) || c < 0 || c > 255) throw new BlockError('INVALID_ARGUMENT', `block ${b.number}: validation code ${c} is not a byte`);
  }

  const header = new common.BlockHeader();
  header.setNumber(b.number);
  header.setPreviousHash(b.previousHash);
  header.setDataHash(blockDataHash(b.envelopes));

  const data = new common.BlockData();
  data.setDataList([...b.envelopes]);

  const metadata = new common.BlockMetadata();
  const entries: Uint8Array[] = Array.from({ length: BLOCK_METADATA_ENTRIES }, () => new Uint8Array(0));
  // SIGNATURES: an (unsigned) common.Metadata, as peers expect a decodable message there.
  entries[BlockMetadataIndex.SIGNATURES] = new common.Metadata().serializeBinary();
  entries[BlockMetadataIndex.TRANSACTIONS_FILTER] = Uint8Array.from(codes);
  metadata.setMetadataList(entries);

  const block = new common.Block();
  block.setHeader(header);
  block.setData(data);
  block.setMetadata(metadata);
  return block;
}

export function encodeBlock(block: common.Block): Uint8Array {
  return block.serializeBinary();
}

export function decodeBlock(bytes: Uint8Array): common.Block {
  let block: common.Block;
  try {
    block = common.Block.deserializeBinary(bytes);
  } catch (e) {
    throw new BlockError('MALFORMED', `bytes are not a common.Block: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  if (!block.hasHeader()) throw new BlockError('MALFORMED', 'common.Block has no header');
  return block;
}

export function blockNumber(block: common.Block): number {
  return block.getHeader()?.getNumber() ?? 0;
}

export function blockEnvelopes(block: common.Block): Uint8Array[] {
  return block.getData()?.getDataList_asU8() ?? [];
}

/** The TRANSACTIONS_FILTER metadata entry: one validation code per transaction. */
export function transactionsFilter(block: common.Block): Uint8Array {
  return block.getMetadata()?.getMetadataList_asU8()[BlockMetadataIndex.TRANSACTIONS_FILTER] ?? new Uint8Array(0);
}

/**
 * Checks one block's internal consistency and, when given, its link to the previous header hash. Returns a
 * description of the first problem, or undefined when the block is consistent.
 */
export function checkBlock(block: common.Block, expected: { number?: number; previousHash?: Uint8Array } = {}): string | undefined {
  const header = block.getHeader();
  if (!header) return 'no header';
  const n = header.getNumber();
  if (expected.number !== undefined && n !== expected.number) return `header number is ${n}, expected ${expected.number}`;
  const envelopes = blockEnvelopes(block);
  if (!bytesEqual(header.getDataHash_asU8(), blockDataHash(envelopes))) return 'data_hash does not match SHA-256 of the block data';
  if (expected.previousHash !== undefined && !bytesEqual(header.getPreviousHash_asU8(), expected.previousHash)) {
    return `previous_hash does not match the header hash of block ${n - 1}`;
  }
  const meta = block.getMetadata()?.getMetadataList_asU8() ?? [];
  if (meta.length < BlockMetadataIndex.TRANSACTIONS_FILTER + 1) return `only ${meta.length} metadata entries`;
  const filter = meta[BlockMetadataIndex.TRANSACTIONS_FILTER] ?? new Uint8Array(0);
  if (filter.length !== envelopes.length) return `TRANSACTIONS_FILTER has ${filter.length} codes for ${envelopes.length} transactions`;
  return undefined;
}
