export { runBlobDriverSuite, type BlobDriverFixture } from './blob-driver-suite';
