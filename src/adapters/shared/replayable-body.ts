/**
 * Whether a body is sent again with the same bytes: nothing, a string, bytes (ArrayBuffer, typed arrays,
 * DataView), a Blob or URLSearchParams. Streams, async iterables and Node streams are read as they are sent;
 * FormData is replayable only once serialized. The one rule every adapter uses.
 */
export function isReplayableBody(body: unknown): boolean {
  return (
    body == null ||
    typeof body === 'string' ||
    body instanceof URLSearchParams ||
    body instanceof Blob ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body)
  )
}
