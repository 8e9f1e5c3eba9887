import { queryRows, rowsOf } from './rows';

describe('rowsOf', () => {
  it('takes the rows out of the [rows, affected] pair TypeORM answers for an UPDATE or DELETE', () => {
    expect(rowsOf([[{ digest: 'a' }], 1])).toEqual([{ digest: 'a' }]);
    expect(rowsOf([[], 0])).toEqual([]);
  });

  it('answers the rows of any other statement as they are', () => {
    expect(rowsOf([{ id: '1' }, { id: '2' }])).toEqual([{ id: '1' }, { id: '2' }]);
    expect(rowsOf([])).toEqual([]);
  });

  it('answers no rows for a result that carries none', () => {
    expect(rowsOf(undefined)).toEqual([]);
  });
});

describe('queryRows', () => {
  it('passes the statement and its parameters through and answers the rows', async () => {
    const calls: unknown[][] = [];
    const db = {
      query: async (sql: string, params?: unknown[]) => (calls.push([sql, params]), [[{ n: 1 }], 1]),
    };
    expect(await queryRows<{ n: number }>(db, 'DELETE … RETURNING n', [7])).toEqual([{ n: 1 }]);
    expect(calls).toEqual([['DELETE … RETURNING n', [7]]]);
  });
});
