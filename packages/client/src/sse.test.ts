import { describe, expect, it } from 'vitest';
import { EventStreamParser, readEventStream, type ServerSentEvent } from './sse.js';

function parseAll(text: string): ServerSentEvent[] {
  return new EventStreamParser().feed(text);
}

function streamOf(chunks: Array<string | Uint8Array>): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks)
        controller.enqueue(typeof chunk === 'string' ? encoder.encode(chunk) : chunk);
      controller.close();
    },
  });
}

async function collect(stream: ReadableStream<Uint8Array>, parser?: EventStreamParser) {
  const events: ServerSentEvent[] = [];
  for await (const event of readEventStream(stream, parser)) events.push(event);
  return events;
}

describe('EventStreamParser', () => {
  it('dispatches on a blank line with event name, id and data', () => {
    expect(parseAll('event: status\nid: 7\ndata: {"a":1}\n\n')).toEqual([
      { event: 'status', id: '7', data: '{"a":1}' },
    ]);
  });

  it('names events without an event field "message" and joins data lines with LF', () => {
    expect(parseAll('data: one\ndata: two\ndata\n\n')).toEqual([
      { event: 'message', id: '', data: 'one\ntwo\n' },
    ]);
  });

  it('removes exactly one space after the colon and keeps the rest', () => {
    expect(parseAll('data:x\n\ndata:  y \n\n').map((e) => e.data)).toEqual(['x', ' y ']);
  });

  it('treats CRLF, CR and LF as line ends', () => {
    const events = parseAll('data: a\r\n\r\ndata: b\r\rdata: c\n\n');
    expect(events.map((e) => e.data)).toEqual(['a', 'b', 'c']);
  });

  it('ignores comments, unknown fields and events without data', () => {
    const events = parseAll(': heartbeat\n\nfoo: bar\nevent: lonely\n\ndata: real\n\n');
    expect(events).toEqual([{ event: 'message', id: '', data: 'real' }]);
  });

  it('dispatches an event whose data field is empty', () => {
    expect(parseAll('data\n\n')).toEqual([{ event: 'message', id: '', data: '' }]);
  });

  it('keeps the last event id across events, ignores ids with NUL, and resets the event name', () => {
    const parser = new EventStreamParser();
    const events = parser.feed(
      'id: 1\nevent: a\ndata: x\n\ndata: y\n\nid: b\u0000ad\ndata: z\n\nid\ndata: w\n\n',
    );
    expect(events).toEqual([
      { event: 'a', id: '1', data: 'x' },
      { event: 'message', id: '1', data: 'y' },
      { event: 'message', id: '1', data: 'z' },
      { event: 'message', id: '', data: 'w' },
    ]);
    expect(parser.lastEventId).toBe('');
  });

  it('reads retry only when it is all digits', () => {
    const parser = new EventStreamParser();
    parser.feed('retry: 3000\n\nretry: 12x\n\nretry: -1\n\n');
    expect(parser.reconnectionMs).toBe(3000);
  });

  it('gives the same events whatever the chunk boundaries are', () => {
    const text =
      'retry: 10\r\nevent: status\r\nid: 1\r\ndata: {"x":"é"}\r\n\r\n: c\rdata: a\rdata: b\r\rid: 2\ndata: last\n\n';
    const whole = parseAll(text);
    expect(whole).toHaveLength(3);
    for (let split = 0; split <= text.length; split++) {
      const parser = new EventStreamParser();
      const events = [...parser.feed(text.slice(0, split)), ...parser.feed(text.slice(split))];
      expect(events, `split at ${split}`).toEqual(whole);
    }
    // and one character at a time
    const parser = new EventStreamParser();
    expect([...text].flatMap((char) => parser.feed(char))).toEqual(whole);
  });

  it('dispatches at once an event whose last line end is a CR at the end of a chunk', () => {
    const parser = new EventStreamParser();
    expect(parser.feed('data: a\r\r')).toEqual([{ event: 'message', id: '', data: 'a' }]);
    // The LF that completes that CRLF, even after an empty chunk, is no blank line.
    expect(parser.feed('data: b\r')).toEqual([]);
    expect(parser.feed('')).toEqual([]);
    expect(parser.feed('\ndata: c\n\n')).toEqual([{ event: 'message', id: '', data: 'b\nc' }]);
  });
});

describe('readEventStream', () => {
  it('decodes UTF-8 split across chunks and drops a leading byte order mark', async () => {
    const bytes = new TextEncoder().encode('\uFEFFdata: héllo wörld\n\n');
    const chunks = [bytes.slice(0, 4), bytes.slice(4, 10), bytes.slice(10, 11), bytes.slice(11)];
    expect(await collect(streamOf(chunks))).toEqual([{ event: 'message', id: '', data: 'héllo wörld' }]);
  });

  it('discards an unterminated event at the end of the stream', async () => {
    expect(await collect(streamOf(['data: done\n\n', 'data: partial\n']))).toEqual([
      { event: 'message', id: '', data: 'done' },
    ]);
  });

  it('leaves lastEventId and reconnectionMs on the parser it was given', async () => {
    const parser = new EventStreamParser();
    await collect(streamOf(['retry: 250\n', 'id: 42\ndata: x\n\n']), parser);
    expect(parser.lastEventId).toBe('42');
    expect(parser.reconnectionMs).toBe(250);
  });

  it('cancels the stream when the consumer stops early', async () => {
    let canceled = false;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(new TextEncoder().encode('data: tick\n\n'));
      },
      cancel() {
        canceled = true;
      },
    });
    let seen = 0;
    for await (const event of readEventStream(stream)) {
      expect(event.data).toBe('tick');
      if (++seen === 3) break;
    }
    expect(canceled).toBe(true);
    expect(stream.locked).toBe(false);
  });
});
