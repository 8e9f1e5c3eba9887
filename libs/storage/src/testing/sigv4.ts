import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/*
 * AWS Signature Version 4 verification for the S3 test server (test support only). s3rver accepts
 * unsigned requests and any V4 signature, so a driver that forgets to sign, signs with the wrong
 * key, or presigns for a host clients do not use would pass against it and fail against MinIO.
 * This checks the Authorization header and presigned query forms the way S3 does, except that it
 * trusts the declared x-amz-content-sha256 (the server compares it with the body it receives).
 */

export interface SigV4Credentials {
  accessKey: string;
  secretKey: string;
  region: string;
}

export type SigV4Result =
  { ok: true; presigned: boolean } | { ok: false; status: number; code: string; message: string };

const ALGORITHM = 'AWS4-HMAC-SHA256';
const MAX_CLOCK_SKEW_MS = 15 * 60_000;
const HEADER_AUTH =
  /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/s3\/aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$/;
const CREDENTIAL = /^([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request$/;
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

export function verifySigV4(req: IncomingMessage, creds: SigV4Credentials, now = Date.now()): SigV4Result {
  const [rawPath, rawQuery = ''] = (req.url ?? '/').split(/\?(.*)/s, 2);
  const query = parseQuery(rawQuery);
  const authorization = req.headers.authorization;
  const presigned = query.some(([k]) => k === 'X-Amz-Algorithm');

  let accessKey: string, scopeDate: string, region: string, signedHeaders: string, signature: string;
  let amzDate: string, payloadHash: string;
  if (authorization !== undefined && !presigned) {
    const m = HEADER_AUTH.exec(authorization);
    if (!m)
      return denied(400, 'AuthorizationHeaderMalformed', 'expected an AWS4-HMAC-SHA256 Authorization header');
    [, accessKey, scopeDate, region, signedHeaders, signature] = m;
    amzDate = header(req, 'x-amz-date');
    payloadHash = header(req, 'x-amz-content-sha256');
    if (!payloadHash) return denied(400, 'InvalidRequest', 'missing x-amz-content-sha256');
    const date = parseAmzDate(amzDate);
    if (date === null || Math.abs(now - date) > MAX_CLOCK_SKEW_MS) {
      return denied(403, 'RequestTimeTooSkewed', 'x-amz-date missing or too far from the server time');
    }
  } else if (presigned && authorization === undefined) {
    const param = (name: string) => query.find(([k]) => k === name)?.[1] ?? '';
    if (param('X-Amz-Algorithm') !== ALGORITHM)
      return denied(400, 'AuthorizationQueryParametersError', 'bad algorithm');
    const m = CREDENTIAL.exec(param('X-Amz-Credential'));
    if (!m) return denied(400, 'AuthorizationQueryParametersError', 'bad X-Amz-Credential');
    [, accessKey, scopeDate, region] = m;
    signedHeaders = param('X-Amz-SignedHeaders');
    signature = param('X-Amz-Signature');
    amzDate = param('X-Amz-Date');
    payloadHash = 'UNSIGNED-PAYLOAD';
    const date = parseAmzDate(amzDate);
    const expires = Number(param('X-Amz-Expires'));
    if (date === null || !Number.isInteger(expires) || expires < 1 || expires > 604_800) {
      return denied(400, 'AuthorizationQueryParametersError', 'bad X-Amz-Date or X-Amz-Expires');
    }
    if (now > date + expires * 1000) return denied(403, 'AccessDenied', 'Request has expired');
  } else if (presigned) {
    return denied(400, 'InvalidArgument', 'only one auth mechanism allowed');
  } else {
    return denied(403, 'AccessDenied', 'anonymous requests are not allowed: the request is not signed');
  }

  if (accessKey !== creds.accessKey) {
    return denied(
      403,
      'InvalidAccessKeyId',
      'The AWS Access Key Id you provided does not exist in our records.',
    );
  }
  if (region !== creds.region || scopeDate !== amzDate.slice(0, 8)) {
    return denied(400, 'AuthorizationHeaderMalformed', `credential scope must be <date>/${creds.region}/s3`);
  }
  const headerNames = signedHeaders.split(';');
  if (!headerNames.includes('host')) return denied(400, 'InvalidRequest', 'the host header must be signed');

  const canonicalRequest = [
    req.method ?? 'GET',
    rawPath,
    canonicalQuery(query.filter(([k]) => k !== 'X-Amz-Signature')),
    headerNames.map((name) => `${name}:${header(req, name).trim().replace(/\s+/g, ' ')}\n`).join(''),
    signedHeaders,
    payloadHash,
  ].join('\n');
  const scope = `${scopeDate}/${region}/s3/aws4_request`;
  const stringToSign = [ALGORITHM, amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  let key = hmac(`AWS4${creds.secretKey}`, scopeDate);
  for (const part of [region, 's3', 'aws4_request']) key = hmac(key, part);
  const expected = Buffer.from(createHmac('sha256', key).update(stringToSign).digest('hex'));
  const provided = Buffer.from(signature);
  if (expected.length !== provided.length || !timingSafeEqual(expected, provided)) {
    return denied(
      403,
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided.',
    );
  }
  return { ok: true, presigned };
}

function denied(status: number, code: string, message: string): SigV4Result {
  return { ok: false, status, code, message };
}

function header(req: IncomingMessage, name: string): string {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : (value ?? '');
}

function parseQuery(raw: string): [string, string][] {
  return raw
    .split('&')
    .filter(Boolean)
    .map((pair) => {
      const i = pair.indexOf('=');
      const [k, v] = i === -1 ? [pair, ''] : [pair.slice(0, i), pair.slice(i + 1)];
      return [decodeURIComponent(k), decodeURIComponent(v)];
    });
}

function canonicalQuery(pairs: [string, string][]): string {
  return pairs
    .map(([k, v]) => [rfc3986(k), rfc3986(v)])
    .sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

function rfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function parseAmzDate(s: string): number | null {
  const m = AMZ_DATE.exec(s);
  return m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) : null;
}

function sha256Hex(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}
