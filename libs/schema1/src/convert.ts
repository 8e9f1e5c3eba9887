/**
 * schema2 → schema1 conversion, byte for byte as Distribution 2.8.2's
 * `manifest/schema1/config_builder.go` (PROTOCOL.md §3.4). Produces the unsigned payload; sign it
 * with `signSchema1` for each response.
 */
import { createHash } from 'node:crypto';
import { RegistryError } from '@wharf/oci';
import { goDecodeError, readGoJson } from './go-read';
import {
  goBool,
  goPtr,
  goSlice,
  goSliceItems,
  goString,
  goStruct,
  goTime,
  goUnmarshalStruct,
  type GoStruct,
} from './go-decode';
import { goJsonCompact, goJsonMarshalIndent, goJsonQuote, goJsonQuoteBytes, compareUtf8 } from './go-json';
import { formatGoTimeJson, type GoTime } from './go-time';
import { digestHex, isSchema1Digest } from './validate';

export interface Schema1Input {
  /** Repository name, without host. */
  name: string;
  tag: string;
  /** The schema2 manifest's `layers[].digest`, in order. */
  layers: string[];
  /** The image config blob exactly as stored. */
  config: Buffer;
}

export interface Schema1Payload {
  /** `json.MarshalIndent(manifest, "", "   ")`: the unsigned, canonical bytes. */
  payload: Buffer;
  /** `sha256:` digest of `payload`: the manifest digest clients see. */
  digest: string;
  /**
   * True when the gzipped empty tar is one of the blobSums: the caller must make sure that blob
   * (SCHEMA1_EMPTY_LAYER) is stored and linked into the repository, as Distribution does.
   */
  usesEmptyLayer: boolean;
}

/** The 32-byte gzip of a 1024-byte zero tar (Distribution's `gzippedEmptyTar`). */
export const SCHEMA1_EMPTY_LAYER: Buffer = Buffer.from(
  '1f8b080000096e8800ff621805a360148c5800080000ffff2eafb5ef00040000',
  'hex',
);
export const SCHEMA1_EMPTY_LAYER_DIGEST =
  'sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4';

const IMAGE_CONFIG = goStruct([
  [
    'rootfs',
    goPtr(
      goStruct([
        ['type', goString],
        ['diff_ids', goSlice(goString)],
        ['base_layer', goString],
      ]),
    ),
  ],
  [
    'history',
    goSlice(
      goStruct([
        ['created', goTime],
        ['author', goString],
        ['created_by', goString],
        ['comment', goString],
        ['empty_layer', goBool],
      ]),
    ),
  ],
  ['architecture', goString],
]);

interface ImageHistory {
  created: GoTime;
  author: string;
  created_by: string;
  comment: string;
  empty_layer: boolean;
}

function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function invalid(message: string, detail?: unknown): RegistryError {
  return new RegistryError('MANIFEST_INVALID', message, detail);
}

/** The `v1Compatibility` JSON of a non-top history entry (Go struct field order). */
function v1CompatibilityEntry(id: string, parent: string, h: ImageHistory): string {
  let out = '{"id":' + goJsonQuote(id);
  if (parent !== '') out += ',"parent":' + goJsonQuote(parent);
  if (h.comment !== '') out += ',"comment":' + goJsonQuote(h.comment);
  out += ',"created":' + formatGoTimeJson(h.created);
  out += ',"container_config":{"Cmd":[' + goJsonQuote(h.created_by) + ']}';
  if (h.author !== '') out += ',"author":' + goJsonQuote(h.author);
  if (h.empty_layer) out += ',"throwaway":true';
  return out + '}';
}

/**
 * `MakeV1ConfigFromConfig`: the config as `map[string]*json.RawMessage` (last duplicate wins)
 * without `rootfs` and `history`, plus `id`, `parent` and `throwaway`, re-marshalled with sorted
 * keys and each raw value compacted with HTML escaping.
 */
function topV1Compatibility(config: Buffer, id: string, parent: string, throwaway: boolean): Buffer {
  const root = readGoJson(config);
  if (root.type !== 'object') throw invalid('json: cannot unmarshal config into map');
  const members = new Map<string, Buffer>();
  for (const m of root.members) members.set(m.key, config.subarray(m.value.start, m.value.end));
  members.delete('rootfs');
  members.delete('history');
  members.set('id', Buffer.from(goJsonQuote(id), 'utf8'));
  if (parent !== '') members.set('parent', Buffer.from(goJsonQuote(parent), 'utf8'));
  if (throwaway) members.set('throwaway', Buffer.from('true'));
  const keys = [...members.keys()].sort(compareUtf8);
  const parts: Buffer[] = [Buffer.from('{')];
  keys.forEach((key, i) => {
    if (i > 0) parts.push(Buffer.from(','));
    parts.push(Buffer.from(goJsonQuote(key), 'utf8'), Buffer.from(':'), goJsonCompact(members.get(key)!));
  });
  parts.push(Buffer.from('}'));
  return Buffer.concat(parts);
}

/**
 * Builds the schema1 payload for a schema2 image, as Distribution 2.8.2 does on a GET by tag
 * without the schema2 Accept type. Every failure is MANIFEST_INVALID with Distribution's message.
 */
export function convertToSchema1(input: Schema1Input): Schema1Payload {
  const config = Buffer.isBuffer(input.config) ? input.config : Buffer.from(input.config);
  for (const layer of input.layers) {
    if (!isSchema1Digest(layer)) throw invalid('invalid checksum digest format', { digest: layer });
  }

  let img: GoStruct;
  try {
    img = goUnmarshalStruct(config, readGoJson(config), IMAGE_CONFIG);
  } catch (e) {
    throw goDecodeError(e, 'image config');
  }
  const history = goSliceItems<ImageHistory>(img.history);
  if (history.length === 0) throw invalid('empty history when trying to create schema1 manifest');
  const rootfs = img.rootfs as GoStruct | null;
  // Distribution dereferences a missing rootfs here (a nil-pointer panic); answer 400 instead.
  if (!rootfs) throw invalid('image config has no rootfs section');
  const diffIds = goSliceItems<string>(rootfs.diff_ids);
  const layers = input.layers;
  if (diffIds.length !== layers.length) {
    throw invalid(
      `number of descriptors and number of layers in rootfs must match: len(${diffIds.length}) != len(${layers.length})`,
    );
  }
  const baseLayer = rootfs.base_layer as string;

  const n = history.length;
  const fsLayers: string[] = new Array(n);
  const v1Compat: Buffer[] = new Array(n);
  let usesEmptyLayer = false;
  let parent = '';
  let layerCounter = 0;

  const blobSumFor = (h: ImageHistory, consume: boolean): string => {
    if (h.empty_layer) {
      usesEmptyLayer = true;
      return SCHEMA1_EMPTY_LAYER_DIGEST;
    }
    if (diffIds.length <= layerCounter) throw invalid('too many non-empty layers in History section');
    const digest = layers[layerCounter];
    if (consume) layerCounter++;
    return digest;
  };

  for (let i = 0; i < n - 1; i++) {
    const h = history[i];
    const blobSum = blobSumFor(h, true);
    const v1Id = sha256Hex(digestHex(blobSum) + ' ' + parent);
    if (i === 0 && baseLayer !== '') {
      // Windows base layer: the parent of the first entry is derived from base_layer.
      parent = createHash('sha384').update(baseLayer, 'utf8').digest().subarray(0, 32).toString('hex');
    }
    const reversed = n - i - 1;
    v1Compat[reversed] = Buffer.from(v1CompatibilityEntry(v1Id, parent, h), 'utf8');
    fsLayers[reversed] = blobSum;
    parent = v1Id;
  }

  const latest = history[n - 1];
  const topBlobSum = blobSumFor(latest, false);
  fsLayers[0] = topBlobSum;
  const topId = createHash('sha256')
    .update(Buffer.from(digestHex(topBlobSum) + ' ' + parent + ' ', 'utf8'))
    .update(config)
    .digest('hex');
  v1Compat[0] = topV1Compatibility(config, topId, parent, latest.empty_layer);

  // json.Marshal(Manifest) then Indent with three spaces.
  const parts: Buffer[] = [
    Buffer.from(
      '{"schemaVersion":1,"name":' +
        goJsonQuote(input.name) +
        ',"tag":' +
        goJsonQuote(input.tag) +
        ',"architecture":' +
        goJsonQuote(img.architecture as string) +
        ',"fsLayers":[' +
        fsLayers.map((d) => '{"blobSum":' + goJsonQuote(d) + '}').join(',') +
        '],"history":[',
      'utf8',
    ),
  ];
  v1Compat.forEach((v, i) => {
    parts.push(
      Buffer.from((i > 0 ? ',' : '') + '{"v1Compatibility":'),
      goJsonQuoteBytes(v),
      Buffer.from('}'),
    );
  });
  parts.push(Buffer.from(']}'));
  const payload = goJsonMarshalIndent(Buffer.concat(parts), '', '   ');
  return { payload, digest: 'sha256:' + sha256Hex(payload), usesEmptyLayer };
}
