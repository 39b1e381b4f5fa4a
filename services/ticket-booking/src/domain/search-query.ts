// Builds Elasticsearch requests from the search API's parameters. Pure, so every filter, sort
// and cursor rule has a unit test beside it.

export interface SearchParams {
  q?: string;
  city?: string;
  category?: string;
  from?: string;
  to?: string;
  minPriceCents?: number;
  maxPriceCents?: number;
  sort: 'relevance' | 'date' | 'price';
  size: number;
  cursor?: string;
}

type SortValue = string | number | null;

const SORTS = {
  relevance: [{ _score: 'desc' }, { startsAt: 'asc' }, { id: 'asc' }],
  date: [{ startsAt: 'asc' }, { id: 'asc' }],
  price: [{ minPriceCents: 'asc' }, { startsAt: 'asc' }, { id: 'asc' }],
} as const;

export class InvalidCursorError extends Error {}

/** The sort values of the last hit, opaque to clients (base64url JSON). */
export function encodeCursor(sort: SortValue[]): string {
  return Buffer.from(JSON.stringify(sort)).toString('base64url');
}

export function decodeCursor(cursor: string, sort: SearchParams['sort']): SortValue[] {
  let values: unknown;
  try {
    values = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursorError('cursor: not a cursor from this API');
  }
  if (
    !Array.isArray(values) ||
    values.length !== SORTS[sort].length ||
    !values.every((v) => v === null || typeof v === 'string' || typeof v === 'number')
  ) {
    throw new InvalidCursorError(`cursor: does not belong to sort=${sort}`);
  }
  return values as SortValue[];
}

export function buildSearch(index: string, p: SearchParams) {
  const filter: object[] = [{ term: { status: 'SCHEDULED' } }];
  if (p.city) filter.push({ term: { city: p.city } });
  if (p.category) filter.push({ term: { category: p.category } });
  if (p.from || p.to)
    filter.push({ range: { startsAt: { ...(p.from && { gte: p.from }), ...(p.to && { lte: p.to }) } } });
  // An event matches a price range when some of its seats do: its [min, max] overlaps the range.
  if (p.minPriceCents !== undefined) filter.push({ range: { maxPriceCents: { gte: p.minPriceCents } } });
  if (p.maxPriceCents !== undefined) filter.push({ range: { minPriceCents: { lte: p.maxPriceCents } } });

  const must = p.q
    ? [
        {
          bool: {
            should: [
              // Typo tolerant: "Tayler Swfit" still finds Taylor Swift (Levenshtein, fuzziness AUTO).
              {
                multi_match: {
                  query: p.q,
                  fields: ['name^3', 'performer^3', 'venueName^2', 'description'],
                  fuzziness: 'AUTO',
                  prefix_length: 1,
                },
              },
              // Exact phrases rank above fuzzy hits ("boosting exact matches" [000:621-625]).
              {
                multi_match: {
                  query: p.q,
                  type: 'phrase',
                  fields: ['name^3', 'performer^3', 'venueName^2'],
                  boost: 2,
                },
              },
            ],
            minimum_should_match: 1,
          },
        },
      ]
    : [];

  return {
    index,
    size: p.size,
    query: { bool: { must, filter } },
    sort: SORTS[p.sort] as unknown as object[],
    ...(p.cursor ? { search_after: decodeCursor(p.cursor, p.sort) } : {}),
    track_total_hits: 10_000,
    _source: { excludes: ['version'] },
  };
}

export function buildSuggest(index: string, prefix: string, size: number) {
  return {
    index,
    size,
    query: {
      bool: {
        must: [
          {
            multi_match: {
              query: prefix,
              fields: ['name.suggest^3', 'performer.suggest^2', 'venueName.suggest'],
              operator: 'and',
            },
          },
        ],
        filter: [{ term: { status: 'SCHEDULED' } }],
      },
    },
    sort: [{ _score: 'desc' }, { startsAt: 'asc' }, { id: 'asc' }] as unknown as object[],
    _source: ['id', 'name', 'performer', 'venueName', 'city', 'startsAt'],
  };
}
