// docs/schema.graphql is what the node serves (regenerate with `npm run schema`).
import { readFileSync } from 'node:fs';
import { lexicographicSortSchema, printSchema } from 'graphql';
import { buildPieSchema } from '../../src/resolvers/index.js';

it('docs/schema.graphql matches the schema built from src/schema and src/resolvers', async () => {
  const built = `${printSchema(lexicographicSortSchema(await buildPieSchema()))}\n`;
  const documented = readFileSync(new URL('../../docs/schema.graphql', import.meta.url), 'utf8');
  expect(documented).toBe(built);
});
