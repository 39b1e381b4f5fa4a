import { describe, expect, it } from 'vitest';
import { buildSearch, decodeCursor, encodeCursor, InvalidCursorError } from './search-query.ts';

describe('buildSearch', () => {
  it('filters on status always, and on city, category, dates and price overlap when given', () => {
    const body = buildSearch('events', {
      city: 'Paris',
      category: 'concert',
      from: '2027-01-01T00:00:00Z',
      to: '2027-02-01T00:00:00Z',
      minPriceCents: 2000,
      maxPriceCents: 5000,
      sort: 'date',
      size: 20,
    });
    expect(body.query.bool.must).toEqual([]);
    expect(body.query.bool.filter).toEqual([
      { term: { status: 'SCHEDULED' } },
      { term: { city: 'Paris' } },
      { term: { category: 'concert' } },
      { range: { startsAt: { gte: '2027-01-01T00:00:00Z', lte: '2027-02-01T00:00:00Z' } } },
      { range: { maxPriceCents: { gte: 2000 } } },
      { range: { minPriceCents: { lte: 5000 } } },
    ]);
    expect(body.sort).toEqual([{ startsAt: 'asc' }, { id: 'asc' }]);
  });

  it('searches text with fuzziness and boosts exact phrases', () => {
    const body = buildSearch('events', { q: 'tayler swift', sort: 'relevance', size: 5 });
    const should = (
      body.query.bool.must[0] as { bool: { should: { multi_match: Record<string, unknown> }[] } }
    ).bool.should;
    expect(should[0]!.multi_match).toMatchObject({ query: 'tayler swift', fuzziness: 'AUTO' });
    expect(should[1]!.multi_match).toMatchObject({ type: 'phrase', boost: 2 });
    expect(body.sort[0]).toEqual({ _score: 'desc' });
  });

  it('continues after a cursor of the same sort and refuses foreign cursors', () => {
    const cursor = encodeCursor([1500, 1767225600000, 'abc']);
    expect(buildSearch('events', { sort: 'price', size: 5, cursor }).search_after).toEqual([
      1500,
      1767225600000,
      'abc',
    ]);
    expect(() => decodeCursor(cursor, 'date')).toThrow(InvalidCursorError);
    expect(() => decodeCursor('%%%', 'date')).toThrow(InvalidCursorError);
    expect(() => decodeCursor(encodeCursor([{ a: 1 } as never, 'x']), 'date')).toThrow(InvalidCursorError);
  });
});
