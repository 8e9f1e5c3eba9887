import { goDecodeInto, goSlice, goSliceItems, goString, goStruct, goZero, GoDecodeError } from './go-decode';
import {
  goJsonCompact,
  goJsonFloat,
  goJsonIndent,
  goJsonMarshalAny,
  goJsonMarshalIndent,
  goJsonQuote,
  goJsonQuoteBytes,
} from './go-json';
import { GoJsonSyntaxError, parseGoJson } from './go-json-parse';
import { formatGoRfc3339Utc, formatGoTimeJson, GO_ZERO_TIME, parseGoTimeJson } from './go-time';

const bytes = (...b: number[]) => Buffer.from(b);
const compact = (s: string) => goJsonCompact(Buffer.from(s, 'utf8')).toString('utf8');

describe('Go string escaping (encodeState.string, escapeHTML on)', () => {
  it('escapes <, > and & as \\u003c, \\u003e, \\u0026', () => {
    expect(goJsonQuote('a<b>&c')).toBe('"a\\u003cb\\u003e\\u0026c"');
  });

  it('can leave HTML characters alone when escapeHTML is off', () => {
    expect(goJsonQuote('<&>', false)).toBe('"<&>"');
  });

  it('escapes U+2028 and U+2029', () => {
    expect(goJsonQuote('x\u2028y\u2029')).toBe('"x\\u2028y\\u2029"');
  });

  it('uses short escapes only for \\n \\r \\t \\" \\\\ and \\u00XX (lower-case hex) for other controls', () => {
    expect(goJsonQuote('\n\r\t"\\')).toBe('"\\n\\r\\t\\"\\\\"');
    // Go 1.19 has no \b / \f short forms (added in Go 1.22).
    expect(goJsonQuote('\b\f\u0000\u001f\u001b')).toBe('"\\u0008\\u000c\\u0000\\u001f\\u001b"');
  });

  it('writes DEL, slash and non-ASCII characters as they are', () => {
    expect(goJsonQuote('\u007f/é😀')).toBe('"\u007f/é😀"');
  });

  it('replaces each byte that does not start valid UTF-8 with \\ufffd, as Go does per byte', () => {
    expect(goJsonQuoteBytes(bytes(0x61, 0xff, 0x62)).toString()).toBe('"a\\ufffdb"');
    // truncated 3-byte sequence: two bad bytes, two replacements (a WHATWG decoder would give one)
    expect(goJsonQuoteBytes(bytes(0xe2, 0x80, 0x41)).toString()).toBe('"\\ufffd\\ufffdA"');
    // UTF-8 encoded surrogate and overlong NUL are invalid in Go
    expect(goJsonQuoteBytes(bytes(0xed, 0xa0, 0x80)).toString()).toBe('"\\ufffd\\ufffd\\ufffd"');
    expect(goJsonQuoteBytes(bytes(0xc0, 0x80)).toString()).toBe('"\\ufffd\\ufffd"');
    expect(goJsonQuoteBytes(bytes(0xf0, 0x9f, 0x98, 0x80)).toString()).toBe('"😀"');
  });

  it('writes a lone UTF-16 surrogate (impossible in a Go string) as U+FFFD', () => {
    expect(goJsonQuote('a\ud800b')).toBe('"a\ufffdb"');
  });
});

describe('compact of json.RawMessage inside json.Marshal', () => {
  it('removes whitespace outside strings and keeps number spellings and existing escapes', () => {
    expect(compact('{ "a" : [ 1.0 , 1e5, -0, 1E+2, 0.10 ] ,\n\t"b":"x\\u00e9\\/y\\"" }')).toBe(
      '{"a":[1.0,1e5,-0,1E+2,0.10],"b":"x\\u00e9\\/y\\""}',
    );
  });

  it('keeps whitespace inside strings', () => {
    expect(compact('[" a  b ", "\\t"]')).toBe('[" a  b ","\\t"]');
  });

  it('still HTML-escapes <, > and & inside raw strings', () => {
    expect(compact('"<a>&amp;</a>"')).toBe('"\\u003ca\\u003e\\u0026amp;\\u003c/a\\u003e"');
  });

  it('escapes raw U+2028/U+2029 bytes and leaves invalid UTF-8 untouched', () => {
    expect(compact('"x\u2028y\u2029"')).toBe('"x\\u2028y\\u2029"');
    const raw = Buffer.concat([Buffer.from('"a'), bytes(0xff, 0xe2, 0x80), Buffer.from('"')]);
    expect(goJsonCompact(raw).equals(raw)).toBe(true);
  });
});

describe('Indent / MarshalIndent', () => {
  it('formats with ": ", one element per line, [] and {} for empty containers, no trailing newline', () => {
    const src = Buffer.from('{"a":[],"b":{},"c":[1,{"d":"x,{:}\\"]"}],"e":null}');
    expect(goJsonMarshalIndent(src, '', '   ').toString()).toBe(
      '{\n   "a": [],\n   "b": {},\n   "c": [\n      1,\n      {\n         "d": "x,{:}\\"]"\n      }\n   ],\n   "e": null\n}',
    );
  });

  it('puts the prefix on every line but the first', () => {
    expect(goJsonIndent(Buffer.from('[{"a":true}]'), '   ', '   ').toString()).toBe(
      '[\n      {\n         "a": true\n      }\n   ]',
    );
  });

  it('re-indents already indented input', () => {
    expect(goJsonIndent(Buffer.from('{\n  "a" : [ 1 ,2 ]\n}'), '', '\t').toString()).toBe(
      '{\n\t"a": [\n\t\t1,\n\t\t2\n\t]\n}',
    );
  });
});

describe('json.Marshal of interface{} values', () => {
  it('sorts map keys by UTF-8 bytes and formats float64 like Go', () => {
    expect(goJsonMarshalAny({ b: 1, a: [true, null], Z: 'x<', é: 0.5, '\u{1F600}': 1, '\uffff': 2 })).toBe(
      '{"Z":"x\\u003c","a":[true,null],"b":1,"é":0.5,"\uffff":2,"😀":1}',
    );
    expect([1e21, 1e20, 1e-7, 1e-6, 1.5e-10, 123.25, -0].map(goJsonFloat)).toEqual([
      '1e+21',
      '100000000000000000000',
      '1e-7',
      '0.000001',
      '1.5e-10',
      '123.25',
      '-0',
    ]);
  });
});

describe('JSON reading with Go rules', () => {
  const parse = (s: string | Buffer) => parseGoJson(typeof s === 'string' ? Buffer.from(s, 'utf8') : s);
  const str = (s: string | Buffer) => {
    const node = parse(s);
    if (node.type !== 'string') throw new Error('not a string');
    return node.value;
  };

  it.each([
    ['control character in string', '"a\u0001"'],
    ['unknown escape', '"\\x"'],
    ["escaped single quote (Go's scanner rejects it)", '"\\\'"'],
    ['short \\u escape', '"\\u12"'],
    ['leading zero', '01'],
    ['trailing comma', '[1,]'],
    ['NaN', 'NaN'],
    ['byte order mark', '\ufeff{}'],
    ['trailing data', '{} x'],
    ['non-JSON whitespace', '{\u00a0}'],
    ['bare fraction', '1.'],
    ['empty input', ''],
  ])('rejects %s', (_what, text) => {
    expect(() => parse(text)).toThrow(GoJsonSyntaxError);
  });

  it('accepts nesting up to depth 10000 and rejects deeper', () => {
    expect(() => parse('['.repeat(10000) + ']'.repeat(10000))).not.toThrow();
    expect(() => parse('['.repeat(10001) + ']'.repeat(10001))).toThrow('exceeded max depth');
  });

  it('decodes surrogate pairs and replaces unpaired surrogates with U+FFFD', () => {
    expect(str('"\\ud83d\\ude00"')).toBe('😀');
    expect(str('"\\ud800x"')).toBe('\ufffdx');
    expect(str('"\\ud800\\u0041"')).toBe('\ufffdA');
    expect(str('"\\udc00"')).toBe('\ufffd');
  });

  it('coerces invalid UTF-8 to one U+FFFD per bad byte', () => {
    expect(str(Buffer.concat([Buffer.from('"'), bytes(0xe2, 0x80, 0x41, 0xff), Buffer.from('"')]))).toBe(
      '\ufffd\ufffdA\ufffd',
    );
  });
});

describe('Go struct decoding semantics', () => {
  const T = goStruct([
    [
      'history',
      goSlice(
        goStruct([
          ['author', goString],
          ['created_by', goString],
        ]),
      ),
    ],
    ['name', goString],
  ]);
  const decode = (s: string) => {
    const buf = Buffer.from(s, 'utf8');
    return goDecodeInto(buf, parseGoJson(buf), T, goZero(T)) as Record<string, unknown>;
  };

  it('matches keys case-insensitively, with the long s and Kelvin sign folds', () => {
    expect(decode('{"NAME":"a"}').name).toBe('a');
    expect(goSliceItems(decode('{"hi\u017ftory":[{"Author":"x"}]}').history)).toEqual([
      { author: 'x', created_by: '' },
    ]);
    expect(decode('{"nam\u00e9":"a"}').name).toBe('');
  });

  it('decodes a repeated key into the same value again, merging structs in reused slice elements', () => {
    const out = decode('{"history":[{"author":"a"},{"author":"b"}],"History":[{"created_by":"x"}]}');
    expect(goSliceItems(out.history)).toEqual([{ author: 'a', created_by: 'x' }]);
  });

  it('lets null clear slices but leave strings unchanged', () => {
    const out = decode('{"name":"a","history":[{}],"name":null,"history":null}');
    expect(out.name).toBe('a');
    expect(out.history).toBeNull();
  });

  it('fails on kind mismatches', () => {
    expect(() => decode('{"name":1}')).toThrow(GoDecodeError);
    expect(() => decode('{"history":{}}')).toThrow(GoDecodeError);
    expect(() => decode('[]')).toThrow(GoDecodeError);
  });
});

describe('time.Time JSON (Go 1.19)', () => {
  const roundTrip = (s: string) => {
    const t = parseGoTimeJson(`"${s}"`);
    return t && formatGoTimeJson(t).slice(1, -1);
  };

  it.each([
    ['2015-11-04T23:06:32.365666163Z', '2015-11-04T23:06:32.365666163Z'],
    ['2015-11-04T23:06:32.500000000Z', '2015-11-04T23:06:32.5Z'],
    ['2015-11-04T23:06:32.000Z', '2015-11-04T23:06:32Z'],
    ['2015-11-04T23:06:32,25Z', '2015-11-04T23:06:32.25Z'],
    ['2015-11-04T23:06:32.123456789999Z', '2015-11-04T23:06:32.123456789Z'],
    ['2015-11-04T23:06:32.1+02:00', '2015-11-04T23:06:32.1+02:00'],
    ['2015-11-04T23:06:32-05:30', '2015-11-04T23:06:32-05:30'],
    ['2015-11-04T23:06:32+00:00', '2015-11-04T23:06:32Z'],
    ['2015-11-04T23:06:32-00:00', '2015-11-04T23:06:32Z'],
    ['2015-11-04T3:06:32Z', '2015-11-04T03:06:32Z'],
    ['2000-02-29T00:00:00Z', '2000-02-29T00:00:00Z'],
    ['0000-01-01T00:00:00Z', '0000-01-01T00:00:00Z'],
    ['2015-11-04T23:06:32+99:99', '2015-11-04T23:06:32+100:39'],
  ])('reads %s and writes %s', (input, output) => {
    expect(roundTrip(input)).toBe(output);
  });

  it.each([
    '2015-11-04T24:00:00Z',
    '2015-11-04T23:60:00Z',
    '2015-11-04T23:06:60Z',
    '1900-02-29T00:00:00Z',
    '2015-02-30T00:00:00Z',
    '2015-13-01T00:00:00Z',
    '2015-11-00T00:00:00Z',
    '2015-11-04t23:06:32Z',
    '2015-11-04T23:06:32z',
    '2015-11-04 23:06:32Z',
    '2015-11-04T23:06:32',
    '2015-11-04T23:06:32Z ',
    '2015-11-04T23:06:32.Z',
    '2015-1-04T23:06:32Z',
    '20151-11-04T23:06:32Z',
    '\\u0032015-11-04T23:06:32Z',
  ])('rejects %s', (input) => {
    expect(parseGoTimeJson(`"${input}"`)).toBeNull();
  });

  it('rejects tokens that are not strings', () => {
    expect(parseGoTimeJson('1447000000')).toBeNull();
  });

  it('writes the zero time as 0001-01-01T00:00:00Z and UTC seconds for the protected header', () => {
    expect(formatGoTimeJson(GO_ZERO_TIME)).toBe('"0001-01-01T00:00:00Z"');
    expect(formatGoRfc3339Utc(new Date('2016-01-02T03:04:05.678+01:00'))).toBe('2016-01-02T02:04:05Z');
  });
});
