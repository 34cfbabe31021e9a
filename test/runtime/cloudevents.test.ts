import { CloudEvent, HTTP } from 'cloudevents';
import { describe, expect, it } from 'vitest';
import type { BusEvent } from '../../shared/bus/event-bus.ts';
import {
  makeEvent,
  parseHttpEvents,
  toHttpBatch,
  toHttpBinary,
  toHttpStructured,
} from '../../shared/runtime/cloudevents.ts';
import { InvalidInputError } from '../../shared/runtime/errors.ts';

const base: BusEvent = {
  specversion: '1.0',
  id: 'evt-1',
  source: '/streamforge/test',
  type: 'io.streamforge.test',
  time: '2024-08-01T12:00:00.123456Z',
  subject: 'BTCUSDT',
  datacontenttype: 'application/json',
  data: { queue_id: 'wf-btcusdt-api_trades-20240801-a1b2c3', n: 1, text: 'a "quoted" 100% value' },
  extensions: { queueid: 'wf-btcusdt-api_trades-20240801-a1b2c3', partitionkey: 'BTC USDT "x"' },
};

function issuesOf(fn: () => unknown): { path: (string | number)[]; message: string }[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidInputError);
    return (err as InvalidInputError).issues as { path: (string | number)[]; message: string }[];
  }
  throw new Error('expected InvalidInputError');
}

describe('CloudEvents HTTP encodings round-trip', () => {
  const encoders = [
    ['binary', toHttpBinary],
    ['structured', toHttpStructured],
    ['batch of one', (e: BusEvent) => toHttpBatch([e])],
  ] as const;

  const events: [string, BusEvent][] = [
    ['JSON object data with extensions', base],
    ['JSON string data', { ...base, data: 'just text', extensions: undefined }],
    ['JSON number data', { ...base, data: 42, extensions: undefined }],
    ['no data', { ...base, data: null, extensions: undefined }],
    [
      'text/plain data',
      { ...base, datacontenttype: 'text/plain', data: 'not { json', extensions: undefined },
    ],
    ['no time or subject', { specversion: '1.0', id: 'x', source: '/s', type: 't', data: { a: [1, 2] } }],
  ];

  for (const [mode, encode] of encoders) {
    for (const [name, event] of events) {
      it(`${mode}: ${name}`, () => {
        const msg = encode(event);
        const [decoded, ...rest] = parseHttpEvents(new Headers(msg.headers), msg.body);
        expect(rest).toEqual([]);
        const expected = { ...event };
        if (expected.extensions === undefined) delete expected.extensions;
        // A JSON content type is what an event without one means.
        expect(decoded).toEqual(
          mode === 'binary' && !event.datacontenttype
            ? { ...expected, datacontenttype: 'application/json' }
            : expected,
        );
      });
    }
  }

  it('binary headers are percent-encoded where the spec asks', () => {
    const { headers } = toHttpBinary(base);
    expect(headers['ce-partitionkey']).toBe('BTC%20USDT%20%22x%22');
    expect(headers['ce-id']).toBe('evt-1');
    expect(headers['content-type']).toBe('application/json');
    expect(headers['ce-time']).toBe('2024-08-01T12:00:00.123456Z');
  });

  it('the SDK reads what we write, and we read what the SDK writes', () => {
    const ours = toHttpStructured(base);
    const sdkRead = HTTP.toEvent({ headers: ours.headers, body: ours.body }) as CloudEvent;
    expect(sdkRead.id).toBe('evt-1');
    expect(sdkRead['queueid']).toBe(base.extensions?.['queueid']);

    const sdkMsg = HTTP.binary(
      new CloudEvent({
        id: 'sdk-1',
        source: '/sdk',
        type: 't',
        datacontenttype: 'application/json',
        data: { x: 1 },
        foo: 'bar',
      }),
    );
    const [e] = parseHttpEvents(new Headers(sdkMsg.headers as Record<string, string>), String(sdkMsg.body));
    expect(e).toMatchObject({ id: 'sdk-1', source: '/sdk', data: { x: 1 }, extensions: { foo: 'bar' } });
  });

  it('structured data_base64 is decoded (JSON parsed for a JSON content type)', () => {
    const body = JSON.stringify({
      specversion: '1.0',
      id: 'b64',
      source: '/s',
      type: 't',
      datacontenttype: 'application/json',
      data_base64: Buffer.from('{"a":1}').toString('base64'),
    });
    const [e] = parseHttpEvents(new Headers({ 'content-type': 'application/cloudevents+json' }), body);
    expect(e?.data).toEqual({ a: 1 });
  });

  it('makeEvent fills specversion, a uuid id and the time', () => {
    const e = makeEvent({ type: 't', source: '/s', data: { a: 1 } });
    expect(e.specversion).toBe('1.0');
    expect(e.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number.isNaN(Date.parse(e.time ?? ''))).toBe(false);
    expect(makeEvent({ type: 't', source: '/s', data: 1, id: 'fixed' }).id).toBe('fixed');
  });
});

describe('invalid CloudEvents are rejected with issues', () => {
  const binaryHeaders = {
    'ce-specversion': '1.0',
    'ce-id': 'a',
    'ce-source': '/s',
    'ce-type': 't',
    'content-type': 'application/json',
  };
  const cases: {
    name: string;
    headers: Record<string, string>;
    body: string;
    paths: (string | number)[][];
    message: RegExp;
  }[] = [
    {
      name: 'no CloudEvent at all',
      headers: { 'content-type': 'application/json' },
      body: '{}',
      paths: [['headers']],
      message: /ce-\* headers/,
    },
    {
      name: 'binary: missing ce-id',
      headers: { ...binaryHeaders, 'ce-id': '' },
      body: '{}',
      paths: [['ce-id']],
      message: /id must not be empty/,
    },
    {
      name: 'binary: missing ce-id and ce-type',
      headers: { 'ce-specversion': '1.0', 'ce-source': '/s' },
      body: '',
      paths: [['ce-id'], ['ce-type']],
      message: /is required/,
    },
    {
      name: 'binary: bad specversion',
      headers: { ...binaryHeaders, 'ce-specversion': '0.3' },
      body: '{}',
      paths: [['ce-specversion']],
      message: /"1.0"/,
    },
    {
      name: 'binary: invalid JSON body',
      headers: binaryHeaders,
      body: '{"a":',
      paths: [['body']],
      message: /invalid JSON/,
    },
    {
      name: 'binary: bad time',
      headers: { ...binaryHeaders, 'ce-time': 'yesterday' },
      body: '{}',
      paths: [['ce-time']],
      message: /datetime/i,
    },
    {
      name: 'binary: source not a URI reference',
      headers: { ...binaryHeaders, 'ce-source': 'a b' },
      body: '{}',
      paths: [['source']],
      message: /uri-reference/,
    },
    {
      name: 'structured: missing id',
      headers: { 'content-type': 'application/cloudevents+json' },
      body: JSON.stringify({ specversion: '1.0', source: '/s', type: 't' }),
      paths: [['id']],
      message: /id is required/,
    },
    {
      name: 'structured: not JSON',
      headers: { 'content-type': 'application/cloudevents+json' },
      body: 'hello',
      paths: [['body']],
      message: /invalid JSON/,
    },
    {
      name: 'structured: upper-case extension name',
      headers: { 'content-type': 'application/cloudevents+json' },
      body: JSON.stringify({ specversion: '1.0', id: 'a', source: '/s', type: 't', queueId: 'x' }),
      paths: [[]],
      message: /invalid attribute name/,
    },
    {
      name: 'structured: data_base64 that is not JSON although the content type says so',
      headers: { 'content-type': 'application/cloudevents+json' },
      body: JSON.stringify({
        specversion: '1.0',
        id: 'a',
        source: '/s',
        type: 't',
        datacontenttype: 'application/json',
        data_base64: Buffer.from('{oops').toString('base64'),
      }),
      paths: [['data_base64']],
      message: /invalid JSON/,
    },
    {
      name: 'batch: not an array',
      headers: { 'content-type': 'application/cloudevents-batch+json' },
      body: '{}',
      paths: [['body']],
      message: /JSON array/,
    },
    {
      name: 'batch: second element lacks type, third is not an object',
      headers: { 'content-type': 'application/cloudevents-batch+json' },
      body: JSON.stringify([
        { specversion: '1.0', id: 'a', source: '/s', type: 't' },
        { specversion: '1.0', id: 'b', source: '/s' },
        7,
      ]),
      paths: [[1, 'type'], [2]],
      message: /.+/,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const issues = issuesOf(() => parseHttpEvents(new Headers(c.headers), c.body));
      expect(issues.map((i) => i.path)).toEqual(c.paths);
      expect(issues[0]?.message).toMatch(c.message);
    });
  }
});
