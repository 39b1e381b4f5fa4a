import { describe, expect } from 'vitest';
import { test } from '../src/index.ts';

describe('Elasticsearch (real server, @elastic/elasticsearch client)', () => {
  test('creates an index with a mapping, bulk indexes, and runs a full-text search with a filter', async ({
    es,
  }) => {
    const index = es.index('events');
    await es.client.indices.create({
      index,
      mappings: {
        properties: {
          name: { type: 'text' },
          city: { type: 'keyword' },
          startsAt: { type: 'date' },
          price: { type: 'float' }, // scaled_float lives in mapper-extras, absent from the native distribution
        },
      },
    });
    const docs = [
      { name: 'Jazz night at the harbour', city: 'Lisbon', startsAt: '2027-03-01T20:00:00Z', price: 30 },
      { name: 'Jazz quartet live', city: 'Porto', startsAt: '2027-03-02T20:00:00Z', price: 25 },
      { name: 'Rock festival', city: 'Lisbon', startsAt: '2027-03-03T18:00:00Z', price: 80 },
    ];
    const bulk = await es.client.bulk({
      refresh: 'wait_for',
      operations: docs.flatMap((doc, i) => [{ index: { _index: index, _id: String(i + 1) } }, doc]),
    });
    expect(bulk.errors).toBe(false);

    const result = await es.client.search<(typeof docs)[number]>({
      index,
      query: {
        bool: {
          must: [{ match: { name: { query: 'jaz', fuzziness: 'AUTO' } } }],
          filter: [{ term: { city: 'Lisbon' } }, { range: { price: { lte: 50 } } }],
        },
      },
    });
    expect(result.hits.hits.map((h) => h._source?.name)).toEqual(['Jazz night at the harbour']);
  });

  test('speaks to an Elasticsearch 8 server, the client major', async ({ es }) => {
    const info = await es.client.info();
    expect(info.version.number).toMatch(/^8\./);
  });
});
