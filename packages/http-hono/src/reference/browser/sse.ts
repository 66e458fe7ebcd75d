// Server-Sent Events read from a fetch body (EventSource cannot send the page's headers, such as an owner or
// Authorization header): the text/event-stream format of the HTML standard, as far as the page needs it.

export interface ServerSentEvent {
  event: string;
  data: string;
  id: string;
}

/**
 * Reads `body` to its end, calling `onEvent` for each event (`event:` defaults to `message`; comments and
 * `retry:` are skipped) and `onText` with the raw text as it arrives.
 */
export function readEvents(
  body: ReadableStream<Uint8Array>,
  onEvent: (event: ServerSentEvent) => void,
  onText: (text: string) => void,
): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let event = '';
  let data: string[] = [];
  let id = '';
  const line = (text: string) => {
    if (text === '') {
      if (data.length) onEvent({ event: event || 'message', data: data.join('\n'), id });
      event = '';
      data = [];
      return;
    }
    if (text.charAt(0) === ':') return;
    const colon = text.indexOf(':');
    const field = colon === -1 ? text : text.slice(0, colon);
    const value = colon === -1 ? '' : text.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
    else if (field === 'id') id = value;
  };
  const pump = (): Promise<void> =>
    reader.read().then((chunk) => {
      if (chunk.done) return;
      const text = decoder.decode(chunk.value, { stream: true });
      onText(text);
      buffer += text;
      // A CR at the end may be the first half of a CRLF: it waits for the next chunk.
      const cr = buffer.charAt(buffer.length - 1) === '\r' ? '\r' : '';
      const lines = buffer.slice(0, buffer.length - cr.length).split(/\r\n|\r|\n/);
      buffer = (lines.pop() || '') + cr;
      lines.forEach(line);
      return pump();
    });
  return pump();
}
