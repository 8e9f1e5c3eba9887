import { BlobInit1764320000001 } from './1764320000001-init';
import { BlobGc1764600000001 } from './1764600000001-gc';
import { BlobCommittedIndex1764800000001 } from './1764800000001-committed-index';

export const BLOB_MIGRATIONS = [BlobInit1764320000001, BlobGc1764600000001, BlobCommittedIndex1764800000001];
