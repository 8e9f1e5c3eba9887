export { runBlobDriverSuite, type BlobDriverFixture } from './blob-driver-suite';
export {
  startS3TestServer,
  type S3Operation,
  type S3TestServer,
  type S3TestServerOptions,
} from './s3-test-server';
