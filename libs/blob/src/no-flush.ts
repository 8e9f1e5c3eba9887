/**
 * Joined into a statement, commits its transaction without waiting for the WAL to reach the disk
 * (SET LOCAL in the statement's own transaction, one round trip). Only for upload-session
 * bookkeeping: a machine crash may roll a session back a little or lose it, which the client sees as
 * an offset to resume from or BLOB_UPLOAD_UNKNOWN, as it already does for the chunks themselves
 * (ADR 13, ADR 14). Blob commits and everything metadata acknowledges keep waiting for the flush,
 * and a later flushed commit makes every earlier one durable too.
 */
export const NO_FLUSH = `(SELECT set_config('synchronous_commit', 'off', true)) AS no_flush`;
