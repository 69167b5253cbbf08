// Writes docs/schema.graphql, the GraphQL schema the node serves (a jest test checks it is current).
import { writeFileSync } from 'node:fs';
import { lexicographicSortSchema, printSchema } from 'graphql';
import { buildPieSchema } from '../dist/src/resolvers/index.js';

const schema = await buildPieSchema();
writeFileSync(new URL('../docs/schema.graphql', import.meta.url), `${printSchema(lexicographicSortSchema(schema))}\n`);
console.log('docs/schema.graphql written');
