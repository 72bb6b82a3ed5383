import { describe, expect, it } from 'vitest';
import { diffKeyedRows, hashColumns, rowHash } from '../../src/steps/compare/compare.js';

/** The shared comparison's pure parts; its SQL is exercised against PostgreSQL in round-trip.test.ts. */
describe('the shared row hash', () => {
  const columns = [
    { name: 'id', type: 'bigint' },
    { name: 'at', type: 'timestamp(3) with time zone' },
    { name: 'amount', type: 'numeric' },
    { name: 'price', type: 'numeric(6,2)' },
    { name: 'doc', type: 'xml' },
    { name: 'moved', type: 'integer' },
  ];
  const names = columns.map((c) => c.name);

  it('hashes natively only the types whose hash is exactly their text, and the same way on both sides', () => {
    expect(hashColumns(names, columns).filter((c) => c.native).map((c) => c.name)).toEqual(['id', 'at', 'price', 'moved']);
    const target = columns.map((c) => (c.name === 'moved' ? { ...c, type: 'bigint' } : c));
    expect(hashColumns(names, columns, target).filter((c) => c.native).map((c) => c.name)).toEqual(['id', 'at', 'price']);
  });

  it('puts every text-hashed value in one row text, so NULL and empty stay apart', () => {
    expect(rowHash(hashColumns(['id', 'amount', 'doc'], columns))).toBe('hash_record_extended(ROW(t."id", ROW(t."amount", t."doc")::text), 0)');
    expect(rowHash([], 't')).toBe('0::int8');
  });

  it('tells missing, extra and changed rows apart, and a duplicate from a change', () => {
    const source = [{ key: '(1)', hash: 'a' }, { key: '(2)', hash: 'b' }, { key: '(3)', hash: 'c' }];
    const target = [{ key: '(1)', hash: 'a' }, { key: '(2)', hash: 'B' }, { key: '(4)', hash: 'd' }, { key: '(1)', hash: 'a' }];
    expect(diffKeyedRows(source, target)).toEqual({ missing: ['(3)'], extra: ['(1)', '(4)'], changed: ['(2)'] });
  });
});
