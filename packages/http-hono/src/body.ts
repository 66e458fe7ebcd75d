import { invalidJson, payloadTooLarge, unsupportedMediaType } from './problems.js';

/** True for `application/json` and `application/<anything>+json`, whatever the parameters. */
export function isJsonMediaType(contentType: string | null | undefined): boolean {
  if (!contentType) return false;
  const essence = contentType.split(';', 1)[0]!.trim().toLowerCase();
  return essence === 'application/json' || /^application\/[a-z0-9!#$&^_.-]+\+json$/.test(essence);
}

/**
 * Reads a JSON request body of at most `maxBytes` bytes. Checks, in order: the media type (415), the
 * declared Content-Length (413 before reading anything), the bytes as they stream in (413 as soon as the
 * limit is passed; the rest is not read), UTF-8 and JSON syntax (400).
 */
export async function readJsonBody(request: Request, maxBytes: number): Promise<unknown> {
  const contentType = request.headers.get('content-type');
  if (!isJsonMediaType(contentType)) {
    throw unsupportedMediaType(
      contentType
        ? `Content-Type ${contentType.split(';', 1)[0]!.trim()} is not supported; send application/json.`
        : 'The request has no Content-Type; send application/json.',
    );
  }
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType ?? '')?.[1]?.toLowerCase();
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    throw unsupportedMediaType(`Charset ${charset} is not supported; send UTF-8.`);
  }
  const encoding = request.headers.get('content-encoding')?.trim().toLowerCase();
  if (encoding && encoding !== 'identity') {
    throw unsupportedMediaType(`Content-Encoding ${encoding} is not supported.`);
  }
  const declared = request.headers.get('content-length');
  if (declared !== null && /^\d+$/.test(declared.trim()) && Number(declared) > maxBytes) {
    throw payloadTooLarge(maxBytes);
  }
  const bytes = await readLimited(request.body, maxBytes);
  if (bytes.byteLength === 0) throw invalidJson('The request body is empty; send a JSON value.');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw invalidJson('The request body is not valid UTF-8.');
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw invalidJson(
      `The request body is not valid JSON${error instanceof SyntaxError ? `: ${error.message}` : '.'}`,
    );
  }
}

/** Collects a byte stream, rejecting with 413 and canceling the stream as soon as it passes `maxBytes`. */
export async function readLimited(
  body: ReadableStream<Uint8Array> | null,
  maxBytes: number,
): Promise<Uint8Array> {
  if (!body) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => {});
        throw payloadTooLarge(maxBytes);
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
