import { RegistryError } from '@wharf/oci';
import { METADATA_OPS } from './metadata-wire';
import { BLOB_OPS } from './blob-wire';
import { MAX_PAYLOAD_BYTES, encodeWire, fromWireError, replyOf, toWireError } from './envelope';
import { WireFormatError } from './check';

describe('wire types', () => {
  it('a RegistryError survives the trip with its codes, details and status', () => {
    const err = RegistryError.many([
      { code: 'MANIFEST_BLOB_UNKNOWN', message: 'blob unknown to registry', detail: { digest: 'sha256:a' } },
      { code: 'MANIFEST_BLOB_UNKNOWN', message: 'blob unknown to registry', detail: { digest: 'sha256:b' } },
    ]);
    const back = fromWireError(replyOfError(JSON.parse(encodeWire({ ok: false, error: toWireError(err) }))));
    expect(back).toBeInstanceOf(RegistryError);
    expect(back.status).toBe(400);
    expect(back.errors).toEqual(err.errors);
    const big = new RegistryError('MANIFEST_INVALID', 'too big', undefined, 413);
    expect(
      fromWireError(replyOfError(JSON.parse(encodeWire({ ok: false, error: big.toJSON() })))).status,
    ).toBe(413);
  });

  it('an error code this version does not know becomes UNKNOWN rather than failing the reply', () => {
    const reply = replyOf(METADATA_OPS.ping.response)({
      ok: false,
      error: { errors: [{ code: 'FROM_THE_FUTURE', message: 'x' }] },
    });
    expect(reply).toEqual({ ok: false, error: { errors: [{ code: 'UNKNOWN', message: 'x' }] } });
  });

  it('bytes travel as base64 and come back as the same Buffer', () => {
    const body = Buffer.from([0, 1, 2, 250, 255]);
    const wire = JSON.parse(
      encodeWire({ repository: 'a/b', reference: 'v1', contentType: 'x', body }),
    ) as Record<string, unknown>;
    expect(wire.body).toBe(body.toString('base64'));
    expect(METADATA_OPS.putManifest.request(wire).body.equals(body)).toBe(true);
  });

  it('a malformed request is refused naming the field; unknown fields are dropped', () => {
    expect(() => BLOB_OPS.getUpload.request({ repository: 'a', id: 7 })).toThrow(WireFormatError);
    expect(() => BLOB_OPS.getUpload.request({ repository: 'a', id: 7 })).toThrow(/id/);
    expect(() => METADATA_OPS.linkBlob.request({ repository: 'a', digest: 'd', size: -1 })).toThrow(/size/);
    expect(() =>
      METADATA_OPS.putManifest.request({ repository: 'a', reference: 'r', contentType: 'x', body: '%%' }),
    ).toThrow(/body/);
    expect(BLOB_OPS.startUpload.request({ repository: 'a', extra: true })).toEqual({ repository: 'a' });
  });

  it('optional fields stay absent rather than becoming null', () => {
    expect(METADATA_OPS.listTags.request({ repository: 'a' })).toEqual({ repository: 'a' });
    expect(METADATA_OPS.listTags.request({ repository: 'a', n: 5, last: 'x' })).toEqual({
      repository: 'a',
      n: 5,
      last: 'x',
    });
  });

  it('keeps room under the 1 MiB NATS payload for the transport wrapper', () => {
    expect(MAX_PAYLOAD_BYTES).toBeLessThan(512 << 10);
  });
});

function replyOfError(v: unknown) {
  const r = replyOf(METADATA_OPS.ping.response)(v);
  if (r.ok || !('error' in r)) throw new Error('expected an error reply');
  return r.error;
}
