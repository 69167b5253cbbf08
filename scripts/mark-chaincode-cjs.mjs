// The chaincode is a CommonJS package (it runs on Fabric's Node runtime); tsc emits it as CommonJS into
// dist/chaincode. Without this marker Node would read those files as ES modules (the root package is "type": "module").
import { mkdirSync, writeFileSync } from 'node:fs';
mkdirSync('dist/chaincode', { recursive: true });
writeFileSync('dist/chaincode/package.json', '{ "type": "commonjs" }\n');
