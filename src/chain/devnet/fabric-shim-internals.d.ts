// Types for the fabric-shim internals the chaincode runner drives (plain JavaScript modules without typings).
declare module 'fabric-shim/lib/stub.js' {
  const ChaincodeStub: new (handler: unknown, channelId: string, txId: string, input: unknown, signedProposal: unknown) => {
    chaincodeEvent?: { getEventName(): string; getPayload_asU8(): Uint8Array };
  };
  export default ChaincodeStub;
}
declare module 'fabric-shim/lib/iterators.js' {
  type Iterator = new (handler: unknown, channelId: string, txId: string, response: unknown) => unknown;
  const iterators: { StateQueryIterator: Iterator; HistoryQueryIterator: Iterator };
  export default iterators;
}
declare module 'fabric-shim/lib/contract-spi/chaincodefromcontract.js' {
  const ChaincodeFromContract: new (contracts: unknown[], serializers: unknown, metadata: unknown, title: string, version: string) => {
    Invoke(stub: unknown): Promise<{ status: number; message?: string; payload?: Uint8Array }>;
  };
  export default ChaincodeFromContract;
}
declare module 'fabric-contract-api/lib/jsontransactionserializer.js' {
  const JSONSerializer: unknown;
  export default JSONSerializer;
}
