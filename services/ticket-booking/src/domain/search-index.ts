import type { Client } from '@elastic/elasticsearch';
import type { FastifyBaseLogger } from 'fastify';

// The events index, with an explicit mapping (`dynamic: strict`: a field nobody designed is an
// error, not a guess). It uses only what both Elasticsearch builds the project runs have: the
// standard tokenizer, lowercase, asciifolding and edge_ngram (core modules in the full
// distribution; the sdlab-compat plugin on the native one). Not used, because the native build
// lacks them: search_as_you_type, scaled_float, painless, _reindex/_update_by_query.
//
// - full text: name, performer, venueName, description with the `folded` analyzer (case and
//   accents folded: "Beyonce" finds "Beyoncé"); queries add fuzziness for typos.
// - suggestions: `*.suggest` sub-fields indexed with edge n-grams (1–20 chars), searched with the
//   plain analyzer, so "tay" matches "Taylor" without a prefix query at search time.
// - filters: city and category are keywords with a folding normalizer ("paris" = "Paris").
// - prices are integer cents (no scaled_float); sort tie-break on `id` (ES 8 refuses `_id`).

export const MAPPING_VERSION = 1;

export function indexBody(refreshInterval: string) {
  const suggest = { type: 'text', analyzer: 'autocomplete', search_analyzer: 'folded' } as const;
  return {
    settings: {
      number_of_shards: 1,
      number_of_replicas: 0,
      refresh_interval: refreshInterval,
      analysis: {
        filter: { autocomplete_edge: { type: 'edge_ngram', min_gram: 1, max_gram: 20 } },
        analyzer: {
          folded: { type: 'custom', tokenizer: 'standard', filter: ['lowercase', 'asciifolding'] },
          autocomplete: {
            type: 'custom',
            tokenizer: 'standard',
            filter: ['lowercase', 'asciifolding', 'autocomplete_edge'],
          },
        },
        normalizer: { folded_keyword: { type: 'custom', filter: ['lowercase', 'asciifolding'] } },
      },
    },
    mappings: {
      dynamic: 'strict',
      _meta: { mappingVersion: MAPPING_VERSION },
      properties: {
        id: { type: 'keyword' },
        name: {
          type: 'text',
          analyzer: 'folded',
          fields: { suggest, sort: { type: 'keyword', normalizer: 'folded_keyword' } },
        },
        performer: { type: 'text', analyzer: 'folded', fields: { suggest } },
        venueName: { type: 'text', analyzer: 'folded', fields: { suggest } },
        description: { type: 'text', analyzer: 'folded' },
        category: { type: 'keyword', normalizer: 'folded_keyword' },
        city: { type: 'keyword', normalizer: 'folded_keyword' },
        venueId: { type: 'keyword' },
        startsAt: { type: 'date' },
        status: { type: 'keyword' },
        waitingRoom: { type: 'boolean' },
        minPriceCents: { type: 'integer' },
        maxPriceCents: { type: 'integer' },
        seatCount: { type: 'integer' },
        version: { type: 'long' },
        updatedAt: { type: 'date' },
      },
    },
  } as const;
}

/** Creates the index if it is missing; two instances racing to create it both succeed. */
export async function ensureIndex(
  es: Client,
  index: string,
  refreshInterval: string,
  log: FastifyBaseLogger,
): Promise<void> {
  if (await es.indices.exists({ index })) return;
  try {
    // `es` is the adapter's set-up client, whose timeout allows for a slow cluster-state update.
    await es.indices.create({ index, ...indexBody(refreshInterval) });
    log.info({ index }, 'created search index');
  } catch (error) {
    const type = (error as { body?: { error?: { type?: string } } }).body?.error?.type;
    if (type !== 'resource_already_exists_exception') throw error;
  }
}
