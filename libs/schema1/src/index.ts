export { convertToSchema1, SCHEMA1_EMPTY_LAYER, SCHEMA1_EMPTY_LAYER_DIGEST } from './convert';
export type { Schema1Input, Schema1Payload } from './convert';
export {
  exportSigningKeyPem,
  generateSigningKey,
  libtrustKeyId,
  loadSigningKey,
  publicJwk,
  publicJwkJson,
} from './keys';
export type { Schema1Algorithm, Schema1SigningKey } from './keys';
export { schema1PrettyFormat, signSchema1 } from './sign';
export type { Schema1PrettyFormat } from './sign';
export { parseUnsignedSchema1, verifySchema1 } from './verify';
export type { Schema1Manifest, VerifiedSchema1 } from './verify';
export {
  goJsonCompact,
  goJsonIndent,
  goJsonMarshalAny,
  goJsonMarshalIndent,
  goJsonQuote,
  goJsonQuoteBytes,
} from './go-json';
export { isSchema1Digest } from './validate';
