/**
 * The transaction context of the PIE contract: fabric-contract-api's Context plus the typed Ledger over its stub.
 * A class of its own (not a type alias) because fabric-contract-api recognises the context parameter of each
 * transaction by its decorator metadata type, which must be the class createContext() returns.
 */
import fabricContractApi from 'fabric-contract-api';
import { Ledger } from './ledger.js';

// fabric-contract-api is CommonJS: a default import works both compiled to CommonJS and run as native ESM.
const { Context } = fabricContractApi;

export class PieContext extends Context {
  private ledgerOfTx?: Ledger;

  /** The typed ledger of this transaction (created on first use, after the stub is set). */
  get ledger(): Ledger {
    return (this.ledgerOfTx ??= new Ledger(this));
  }
}
