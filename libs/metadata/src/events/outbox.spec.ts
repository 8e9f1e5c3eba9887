import { EventOutbox } from './outbox';

const source = { addr: 'test:5000', instanceID: '00000000-0000-4000-8000-000000000000' };
const ctx = {
  baseUrl: 'http://r',
  request: { id: '1', addr: 'a:1', host: 'r', method: 'GET', useragent: 'test' },
};

describe('EventOutbox pulls', () => {
  it('holds at most a bounded backlog of pull events while inserts are slower than pulls', async () => {
    const inserted: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const pool = {
      query: async (_sql: string, params?: unknown[]) => {
        await gate;
        inserted.push(params?.length ?? 0);
        return [];
      },
    };
    const outbox = new EventOutbox(pool, { source, pull: true, pullFlushMs: 60_000 });
    for (let i = 0; i < 60_000; i++) outbox.pull({ repository: 'r', digest: `d${i}` }, ctx);
    release();
    await outbox.flush();
    expect(inserted.length).toBeGreaterThan(0);
    // Every batch is one insert of at most 500 events: 20 batches are the 10,000 kept.
    expect(inserted.length).toBe(20);
  });
});
