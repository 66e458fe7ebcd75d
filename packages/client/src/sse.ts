import { createParser, type EventSourceParser } from 'eventsource-parser';

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
 * Incremental parser of the `text/event-stream` format (WHATWG HTML §9.2.6), on top of `eventsource-parser`:
 * feed it decoded text in chunks of any size, get the dispatched events back. Lines end with CRLF, LF or CR;
 * `:` lines are comments; a blank line dispatches; an event without data is not dispatched; an
 * unterminated event at the end of the stream is discarded.
 */
export class EventStreamParser {
  /** Last `id:` value of a dispatched event; sent back as `Last-Event-ID` when reconnecting. */
  lastEventId = '';
  /** Last valid `retry:` value in milliseconds; null until the server sent one. */
  reconnectionMs: number | null = null;

  #dispatched: ServerSentEvent[] = [];
  #skipLineFeed = false;
  readonly #parser: EventSourceParser = createParser({
    onEvent: (message) => {
      // eventsource-parser gives the event's own id; the spec's last event id persists across events.
      if (message.id !== undefined) this.lastEventId = message.id;
      this.#dispatched.push({ event: message.event || 'message', data: message.data, id: this.lastEventId });
    },
    onRetry: (ms) => {
      this.reconnectionMs = ms;
    },
  });

  feed(text: string): ServerSentEvent[] {
    let chunk = text;
    if (this.#skipLineFeed && chunk.startsWith('\n')) chunk = chunk.slice(1);
    if (chunk !== '') {
      // eventsource-parser 3 holds back a CR that ends a chunk until it sees whether a LF follows, which
      // would delay the event a lone CR dispatches: end that line now, and drop a LF that starts the next chunk.
      this.#skipLineFeed = chunk.endsWith('\r');
      this.#parser.feed(this.#skipLineFeed ? `${chunk}\n` : chunk);
    }
    const events = this.#dispatched;
    this.#dispatched = [];
    return events;
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
