/**
 * Docker schema2 images whose configs exercise what a schema2 → schema1 conversion gets wrong
 * unless it is Go's encoding/json byte for byte (PROTOCOL.md §3.4). The configs are written as raw
 * text on purpose: whitespace, number spellings, escapes, key order and duplicates all reach the
 * payload (the top v1 id hashes the raw bytes, and raw values are only compacted).
 */
import { createHash } from 'node:crypto';
import type { TestImage } from './support';

const LS = '\u2028';
const PS = '\u2029';

/** Deterministic opaque layers (registries never look inside), distinct per image and index. */
function layersFor(name: string, count: number): Buffer[] {
  return Array.from({ length: count }, (_, i) =>
    Buffer.concat([Buffer.from(`layer ${name} ${i} `), createHash('sha256').update(`${name}/${i}`).digest()]),
  );
}

const diffIds = (layers: Buffer[]): string =>
  layers.map((l) => `"sha256:${createHash('sha256').update(l).digest('hex')}"`).join(', ');

export interface TrapImage {
  name: string;
  /** What it exercises. */
  why: string;
  image: TestImage;
  /** Distribution answers an error for it (and so must Wharf). */
  fails?: boolean;
}

function trap(
  name: string,
  why: string,
  layerCount: number,
  config: (diffIds: string) => string | Buffer,
  fails = false,
): TrapImage {
  const layers = layersFor(name, layerCount);
  const text = config(diffIds(layers));
  return {
    name,
    why,
    image: { config: Buffer.isBuffer(text) ? text : Buffer.from(text, 'utf8'), layers },
    fails,
  };
}

export const TRAP_IMAGES: TrapImage[] = [
  trap(
    'html-escapes',
    'Go escapes <, >, &, U+2028 and U+2029 in strings, also inside raw config values; existing escapes stay',
    2,
    (ids) => `{
  "architecture": "amd64",
  "os": "linux",
  "author": "Ops <ops&dev@example.com>",
  "config": {
    "Env": ["A=<b>", "B=x&&y", "C=line${LS}sep${PS}para", "D=\\u003calready escaped\\u003e", "E=slash\\/ok", "F=é ü 😀 \\ud83d\\ude00 \\u00e9"],
    "Labels": {"org.example/tag": "<&>", "empty": ""},
    "Cmd": ["/bin/sh", "-c", "echo '<html>' && exit 0"]
  },
  "rootfs": {"type": "layers", "diff_ids": [${ids}]},
  "history": [
    {"created": "2024-03-04T05:06:07Z", "created_by": "/bin/sh -c #(nop) ADD file:<x>&<y> in / ", "author": "A <a@b>", "comment": "c&d${LS}"},
    {"created": "2024-03-04T05:06:08Z", "created_by": "RUN echo '<&>' ${PS}"}
  ]
}`,
  ),
  trap(
    'numbers',
    'raw numbers keep their spelling (1e3, 1.50, -0, 1E+2, huge integers), only whitespace goes',
    1,
    (ids) => `{
\t"architecture" : "amd64" ,
\t"os":"linux",
\t"x-numbers" : [ 1e3 , 1.50 , -0 , 1E+2 , 0.000001 , 12345678901234567890 , 1.0e-7 , 0 , -12.5E-3 ],
\t"x-object" : { "big" : 9007199254740993 , "neg" : -1 , "float" : 3.14159265358979323846264338327950288 },
\t"config" : { "ExposedPorts" : { "80/tcp" : { } , "443/tcp" : {} } , "StopTimeout" : 10 },
\t"rootfs" : { "type" : "layers" , "diff_ids" : [ ${ids} ] },
\t"history" : [ { "created" : "2024-01-01T00:00:00Z" , "created_by" : "ADD ." } ]
}
`,
  ),
  trap(
    'nested-key-order',
    'top-level keys are sorted by bytes, nested objects keep their own order and duplicates',
    1,
    (ids) =>
      `{"zeta":1,"Zeta":2,"_u":3,"é":4,"10":5,"9":6,"a b":7,"config":{"z":{"b":1,"a":2,"b":3},"A":[{"y":1,"x":2}]},` +
      `"architecture":"arm64","os":"linux","rootfs":{"type":"layers","diff_ids":[${ids}]},` +
      `"history":[{"created":"2024-01-01T00:00:00Z","created_by":"ADD ."}],"variant":"v8"}`,
  ),
  trap(
    'duplicate-keys',
    'with duplicate keys the last one wins, both in the raw map and in the parsed fields',
    1,
    (ids) =>
      `{"architecture":"ppc64le","x":"first","os":"linux","rootfs":{"type":"layers","diff_ids":[${ids}]},` +
      `"history":[{"created":"2024-01-01T00:00:00Z","created_by":"first"}],"x":"second","architecture":"s390x",` +
      `"history":[{"created":"2024-02-02T00:00:00Z","created_by":"second","created_by":"third"}]}`,
  ),
  trap(
    'escaped-keys',
    'an escaped key is the same key once decoded: it collides with its plain spelling and sorts by its value',
    1,
    (ids) =>
      `{"a\\u0062c":1,"abc":2,"\\u00e9":"e-acute","\\u003ckey\\u003e":"lt","architecture":"amd64","os":"linux",` +
      `"rootfs":{"type":"layers","diff_ids":[${ids}]},"history":[{"created_by":"x"}]}`,
  ),
  trap(
    'case-folding',
    'Go matches struct fields case-insensitively ("History"), while the raw map deletes only "history" and "rootfs"',
    2,
    (ids) =>
      `{"Architecture":"amd64","os":"linux","RootFS":{"Type":"layers","Diff_IDs":[${ids}]},` +
      `"History":[{"Created":"2024-01-01T00:00:00Z","Created_By":"one","EMPTY_LAYER":false},` +
      `{"created":"2024-01-01T00:00:01Z","created_by":"env","Empty_Layer":true},{"created_by":"two"}]}`,
  ),
  trap(
    'empty-layers',
    'empty layers first, in the middle and on top map to the gzipped empty tar (top one: throwaway)',
    2,
    (ids) => `{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[${ids}]},
"history":[
 {"created":"2024-01-01T00:00:00Z","created_by":"/bin/sh -c #(nop)  ARG X","empty_layer":true},
 {"created":"2024-01-01T00:00:01Z","created_by":"ADD a /"},
 {"created":"2024-01-01T00:00:02Z","created_by":"ENV A=1","empty_layer":true},
 {"created":"2024-01-01T00:00:03Z","created_by":"LABEL x=y","empty_layer":true},
 {"created":"2024-01-01T00:00:04Z","created_by":"ADD b /","empty_layer":false},
 {"created":"2024-01-01T00:00:05Z","created_by":"CMD [\\"sh\\"]","empty_layer":true}
]}`,
  ),
  trap(
    'missing-created-and-nulls',
    'a missing or null created becomes 0001-01-01T00:00:00Z; null strings are empty; no architecture is ""',
    3,
    (ids) =>
      `{"os":"linux","config":null,"rootfs":{"type":"layers","diff_ids":[${ids}]},"history":[` +
      `{"created_by":"no created"},{"created":null,"created_by":null,"author":null,"comment":null,"empty_layer":null},` +
      `{"created_by":"last"}]}`,
  ),
  trap(
    'timestamps',
    'times keep their offset, drop trailing zero fractions and keep nanoseconds, as Go formats them',
    5,
    (ids) =>
      `{"architecture":"amd64","os":"linux","created":"2024-05-06T07:08:09.120000000+05:30",` +
      `"rootfs":{"type":"layers","diff_ids":[${ids}]},"history":[` +
      `{"created":"2024-05-06T07:08:09.120000000+05:30","created_by":"a"},` +
      `{"created":"2024-05-06T07:08:09.123456789-08:00","created_by":"b"},` +
      `{"created":"2024-05-06T07:08:09.500Z","created_by":"c"},` +
      `{"created":"0001-01-01T00:00:00Z","created_by":"d"},` +
      `{"created":"2024-12-31T23:59:59.000000001+00:00","created_by":"e"}]}`,
  ),
  trap(
    'windows-base-layer',
    "a Windows image: rootfs.base_layer makes the first entry's parent from SHA-384",
    2,
    (ids) =>
      `{"architecture":"amd64","os":"windows","os.version":"10.0.17763.1234","config":{"Cmd":["cmd /S /C"]},` +
      `"rootfs":{"type":"layers","diff_ids":[${ids}],"base_layer":"sha256:${'b'.repeat(64)}"},"history":[` +
      `{"created":"2019-01-01T00:00:00Z","created_by":"Apply image 10.0.17763.1234"},` +
      `{"created":"2019-01-02T00:00:00Z","created_by":"cmd /S /C #(nop)  ENV X=1","empty_layer":true},` +
      `{"created":"2019-01-03T00:00:00Z","created_by":"cmd /S /C install"}]}`,
  ),
  trap(
    'config-keeps-id-parent-throwaway',
    "a config's own id is replaced, but its parent and throwaway stay when the conversion sets none",
    1,
    (ids) =>
      `{"id":"mine","parent":"theirs","throwaway":false,"architecture":"amd64","os":"linux",` +
      `"rootfs":{"type":"layers","diff_ids":[${ids}]},"history":[{"created_by":"only"}]}`,
  ),
  trap(
    'fewer-history-than-layers',
    'layers beyond the non-empty history entries are simply not listed',
    3,
    (ids) =>
      `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[${ids}]},` +
      `"history":[{"created_by":"one"},{"created_by":"two"}]}`,
  ),
  trap(
    'whitespace-around-config',
    'the top id hashes the config exactly as stored, surrounding whitespace included',
    1,
    (ids) =>
      `\r\n \t{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[${ids}]},` +
      `"history":[{"created_by":"x"}]}\n\n`,
  ),
  trap('invalid-utf8', 'invalid UTF-8 in a string becomes U+FFFD in the JSON Go writes', 1, (ids) =>
    Buffer.concat([
      Buffer.from('{"architecture":"amd64","os":"linux","x":"bad '),
      Buffer.from([0xff, 0xc3, 0x28]),
      Buffer.from(` bytes","rootfs":{"type":"layers","diff_ids":[${ids}]},"history":[{"created_by":"ok `),
      Buffer.from([0xed, 0xa0, 0x80]),
      Buffer.from('"}]}'),
    ]),
  ),
  trap(
    'many-layers',
    'a long chain of parent ids',
    12,
    (ids) =>
      `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[${ids}]},"history":[` +
      Array.from(
        { length: 12 },
        (_, i) => `{"created":"2024-01-01T00:00:${String(i).padStart(2, '0')}Z","created_by":"step ${i}"}`,
      ).join(',') +
      `]}`,
  ),
  trap(
    'empty-history',
    'no history at all: MANIFEST_INVALID',
    1,
    (ids) =>
      `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[${ids}]},"history":[]}`,
    true,
  ),
  trap(
    'diff-ids-mismatch',
    'rootfs.diff_ids and the manifest layers differ in number: MANIFEST_INVALID',
    2,
    (ids) =>
      `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[${ids.split(', ')[0]}]},` +
      `"history":[{"created_by":"a"},{"created_by":"b"}]}`,
    true,
  ),
  trap(
    'too-many-non-empty',
    'more non-empty history entries than layers: MANIFEST_INVALID',
    1,
    (ids) =>
      `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[${ids}]},` +
      `"history":[{"created_by":"a"},{"created_by":"b"}]}`,
    true,
  ),
];
