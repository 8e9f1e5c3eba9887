export { S3Driver } from './s3.driver';
export { StorageNotFoundError } from './s3-objects';
export { parseS3Endpoint, type S3DriverOptions, type S3Endpoint } from './s3-options';
export { S3Layout } from './s3-layout';
export {
  PartLayout,
  PARTS_PER_SIZE_STEP,
  S3_MAX_OBJECT_SIZE,
  S3_MAX_PARTS,
  S3_MAX_PART_SIZE,
  S3_MIN_PART_SIZE,
} from './part-layout';
export type { S3UploadHandle } from './upload-state';
