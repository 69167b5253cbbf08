/** Entry point of the PIE chaincode: `fabric-chaincode-node start` loads `contracts` from package.json's main. */
import { PieContract } from './contract.js';

export { PieContract };
export const contracts = [PieContract];
