/** One dispatched Server-Sent Event. */
export interface ServerSentEvent {
  /** The `event:` field, `message` when the event had none. */
  event: string;
  /** The `data:` lines joined with `\n`. */
  data: string;
  /** The last event id seen on the stream so far (ids persist across events); '' when none. */
  id: string;
}

/**
 * Incremental parser of the `text/event-stream` format (WHATWG HTML §9.2.6): feed it decoded text in chunks
 * of any size, get the dispatched events back. Lines end with CRLF, LF or CR; `:` lines are comments;
 * a blank line dispatches; an event without data is not dispatched; an unterminated event at the end of
 * the stream is discarded.
 */
export class EventStreamParser {
  /** Last `id:` value; sent back as `Last-Event-ID` when reconnecting. */
  lastEventId = '';
  /** Last valid `retry:` value in milliseconds; null until the server sent one. */
  reconnectionMs: number | null = null;

  #buffer = '';
  #skipLineFeed = false;
  #data = '';
  #hasData = false;
  #eventType = '';

  feed(text: string): ServerSentEvent[] {
    const events: ServerSentEvent[] = [];
    let chunk = text;
    if (this.#skipLineFeed && chunk.startsWith('\n')) chunk = chunk.slice(1);
    this.#skipLineFeed = false;
    this.#buffer += chunk;
    let start = 0;
    for (let i = 0; i < this.#buffer.length; i++) {
      const char = this.#buffer[i];
      if (char !== '\n' && char !== '\r') continue;
      const line = this.#buffer.slice(start, i);
      if (char === '\r') {
        if (i + 1 < this.#buffer.length) {
          if (this.#buffer[i + 1] === '\n') i++;
        } else {
          // A CR at the end of a chunk: a LF starting the next chunk belongs to the same line break.
          this.#skipLineFeed = true;
        }
      }
      start = i + 1;
      const event = this.#line(line);
      if (event) events.push(event);
    }
    this.#buffer = this.#buffer.slice(start);
    return events;
  }

  #line(line: string): ServerSentEvent | null {
    if (line === '') return this.#dispatch();
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.#eventType = value;
        break;
      case 'data':
        this.#data += this.#hasData ? `\n${value}` : value;
        this.#hasData = true;
        break;
      case 'id':
        if (!value.includes('\u0000')) this.lastEventId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.reconnectionMs = Number(value);
        break;
      default:
        break;
    }
    return null;
  }

  #dispatch(): ServerSentEvent | null {
    const event = this.#hasData
      ? { event: this.#eventType || 'message', data: this.#data, id: this.lastEventId }
      : null;
    this.#data = '';
    this.#hasData = false;
    this.#eventType = '';
    return event;
  }
}

/**
 * The events of a `text/event-stream` body, in order. Ends when the stream ends; `parser` (optional) is
 * the parser to use, so the caller can read `lastEventId` and `reconnectionMs` afterwards.
 */
export async function* readEventStream(
  body: ReadableStream<Uint8Array>,
  parser: EventStreamParser = new EventStreamParser(),
): AsyncGenerator<ServerSentEvent, void, undefined> {
  const reader = body.getReader();
  // The default TextDecoder drops a leading byte order mark, as the format requires.
  const decoder = new TextDecoder('utf-8');
  let finished = false;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        finished = true;
        yield* parser.feed(decoder.decode());
        return;
      }
      yield* parser.feed(decoder.decode(value, { stream: true }));
    }
  } finally {
    if (!finished) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
