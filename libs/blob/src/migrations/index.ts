import { BlobInit1764320000001 } from './1764320000001-init';

export const BLOB_MIGRATIONS = [BlobInit1764320000001];
