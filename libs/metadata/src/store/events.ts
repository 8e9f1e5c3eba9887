import type { RegistryEvent } from '@wharf/contracts';
import { queryRows, type Queryable } from '@wharf/database';

// metadata.event_outbox (an event per change, written with it) and metadata.event_deliveries
// (what each webhook endpoint has still to receive). See docs/adr/0010-durable-events.md.

/** Published events stay this long after every endpoint has them (room for inspection). */
const RETAIN_DELIVERED = '1 hour';

export async function insertEvents(db: Queryable, events: RegistryEvent[]): Promise<void> {
  await db.query(
    `INSERT INTO metadata.event_outbox (id, action, event)
     SELECT * FROM unnest($1::uuid[], $2::text[], $3::jsonb[])`,
    [events.map((e) => e.id), events.map((e) => e.action), events.map((e) => JSON.stringify(e))],
  );
}

/** An outbox row on its way: `seq` orders events and keys their deliveries. */
export interface OutboxRow {
  seq: string;
  event: RegistryEvent;
}

/** The oldest events not yet published, locked (SKIP LOCKED: replicas share the work). */
export function claimUnpublished(tx: Queryable, limit: number): Promise<OutboxRow[]> {
  return queryRows<OutboxRow>(
    tx,
    `SELECT seq, event FROM metadata.event_outbox WHERE published_at IS NULL
         ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED`,
    [limit],
  );
}

/** Queues the events for every endpoint, once each. */
export async function queueDeliveries(tx: Queryable, endpoints: string[], seqs: string[]): Promise<void> {
  await tx.query(
    `INSERT INTO metadata.event_deliveries (endpoint, seq)
           SELECT e, s FROM unnest($1::text[]) e CROSS JOIN unnest($2::bigint[]) s ON CONFLICT DO NOTHING`,
    [endpoints, seqs],
  );
}

export async function markPublished(tx: Queryable, seqs: string[]): Promise<void> {
  await tx.query(`UPDATE metadata.event_outbox SET published_at = now() WHERE seq = ANY($1::bigint[])`, [
    seqs,
  ]);
}

/** The endpoint's oldest queued events, its delivery rows locked while they are in flight. */
export function claimDeliveries(tx: Queryable, endpoint: string, limit: number): Promise<OutboxRow[]> {
  return queryRows<OutboxRow>(
    tx,
    `SELECT d.seq, o.event FROM metadata.event_deliveries d
         JOIN metadata.event_outbox o ON o.seq = d.seq
         WHERE d.endpoint = $1 ORDER BY d.seq LIMIT $2 FOR UPDATE OF d SKIP LOCKED`,
    [endpoint, limit],
  );
}

export async function deleteDeliveries(tx: Queryable, endpoint: string, seqs: string[]): Promise<void> {
  await tx.query(`DELETE FROM metadata.event_deliveries WHERE endpoint = $1 AND seq = ANY($2::bigint[])`, [
    endpoint,
    seqs,
  ]);
}

/** Deletes the deliveries queued for endpoints other than `endpoints`: how many went, per endpoint. */
export function dropDeliveriesExcept(
  db: Queryable,
  endpoints: string[],
): Promise<{ endpoint: string; n: number }[]> {
  return queryRows<{ endpoint: string; n: number }>(
    db,
    `WITH gone AS (
         DELETE FROM metadata.event_deliveries WHERE NOT (endpoint = ANY($1::text[])) RETURNING endpoint
       ) SELECT endpoint, count(*)::int AS n FROM gone GROUP BY endpoint ORDER BY endpoint`,
    [endpoints],
  );
}

/** Deletes events every endpoint has had for longer than RETAIN_DELIVERED. */
export async function deleteDelivered(db: Queryable): Promise<void> {
  await db.query(
    `DELETE FROM metadata.event_outbox o
       WHERE o.published_at < now() - interval '${RETAIN_DELIVERED}'
         AND NOT EXISTS (SELECT 1 FROM metadata.event_deliveries d WHERE d.seq = o.seq)`,
  );
}

export interface EventLag {
  /** Events not yet handed to every sink (outbox rows unpublished plus queued webhook deliveries). */
  undelivered: number;
  /** Age in seconds of the oldest of them; 0 when there are none. */
  oldestAgeSeconds: number;
}

/** For /metrics: how far event delivery is behind. */
export async function eventLag(db: Queryable): Promise<EventLag> {
  const rows = await queryRows<{ n: string; age: string }>(
    db,
    `SELECT count(*)::bigint AS n, COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0) AS age FROM (
       SELECT o.created_at FROM metadata.event_outbox o WHERE o.published_at IS NULL
       UNION ALL
       SELECT o.created_at FROM metadata.event_deliveries d JOIN metadata.event_outbox o ON o.seq = d.seq
     ) pending`,
  );
  return { undelivered: Number(rows[0].n), oldestAgeSeconds: Number(rows[0].age) };
}
