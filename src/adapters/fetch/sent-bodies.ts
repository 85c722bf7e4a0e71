import {
  type BodyCopy,
  copyingIterable,
  copyingStream,
  createBodyCopy,
  isAsyncIterable,
} from '../shared/body-copy.js'
import { serializeFormData } from '../shared/form-data.js'
import { type PreparedRequest, resent, type SessionRequestInit, withToken } from './prepared-request.js'

// The bodies that take more than a reference to be sent again, loaded by the fetch adapter on the first request
// that has one: FormData (serialized once), a stream or async iterable in init.body (copied as it is sent), and a
// Request's body (sent by fetch as it comes, copied from a clone read alongside).

/**
 * Prepare a request whose body is FormData, a stream, an async iterable or a Node stream (in init), or a
 * Request's body. A streamed body goes out as it is read, and a copy of it is kept up to `limit` bytes (0:
 * none): a refused request whose whole body fit is sent again with those bytes; a `replayBody` factory in the
 * init is used instead when there is one.
 */
export async function prepareSent(
  request: Request | undefined,
  url: string,
  init: SessionRequestInit | undefined,
  headers: Headers,
  limit: number,
): Promise<PreparedRequest> {
  const target = request ?? url
  const body = init?.body
  if (body instanceof FormData) {
    const { bytes, contentType } = await serializeFormData(body)
    if (!headers.has('content-type')) headers.set('content-type', contentType)
    return resent(target, { ...init, body: bytes }, headers)
  }
  const factory = init?.replayBody
  const copy = createBodyCopy(factory ? 0 : limit)
  if (body != null) {
    let first: unknown = body
    if (!factory && limit > 0) {
      if (body instanceof ReadableStream) first = copyingStream(body, copy)
      else if (isAsyncIterable(body)) first = copyingIterable(body, copy)
    }
    return sent(target, init, headers, first as BodyInit, copy)
  }
  const input = request as Request
  // A used body: `new Request()` throws fetch's own TypeError, so the call rejects as fetch would, nothing sent.
  if (input.bodyUsed) new Request(input)
  // fetch sends the Request's body itself, as it would without the session: with its length when it was made
  // from a string, bytes, a Blob, FormData or URLSearchParams, as a stream as it comes when it was made from one.
  // The copy is read from a clone (the two branches of a tee), at most `limit` bytes of it: past that, or once
  // released, the clone is cancelled and the body flows on to fetch alone.
  const reader = factory || limit <= 0 ? undefined : input.clone().body?.getReader()
  const prepared = sent(target, init, headers, undefined, copy)
  if (reader) {
    keep(reader, copy, limit)
    prepared.release = () => {
      copy.release()
      reader.cancel().catch(() => undefined)
    }
  }
  return prepared
}

/** Read a clone of a body into `copy`, as fast as it comes, until it ends or is past the `limit`. */
async function keep(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  copy: BodyCopy,
  limit: number,
): Promise<void> {
  try {
    for (let read = 0; ; ) {
      const { done, value } = await reader.read()
      if (done) return copy.end()
      copy.add(value)
      read += value.byteLength
      if (read > limit) return void reader.cancel().catch(() => undefined) // the copy kept nothing
    }
  } catch {
    // The body broke off: fetch fails the send with the same error, and there is no copy to replay.
  }
}

// A body read as it is sent: the first attempt sends `first` (undefined: the Request's own body), the next ones a
// `replayBody` factory's body (once), else the copy when the whole body fit in it.
function sent(
  target: RequestInfo | URL,
  init: SessionRequestInit | undefined,
  headers: Headers,
  first: BodyInit | undefined,
  copy: BodyCopy,
): PreparedRequest {
  const factory = init?.replayBody
  const base: SessionRequestInit = { ...init, headers }
  delete base.replayBody
  let attempts = 0
  return {
    get replayable() {
      // A `replayBody` factory is called at most once: one attempt after the first.
      return factory ? attempts < 2 : copy.bytes() !== undefined
    },
    attempt(token, presented) {
      withToken(headers, token, presented)
      const n = attempts++
      if (n === 0) return [target, first === undefined ? base : { ...base, body: first }]
      if (factory && n === 1) {
        return Promise.resolve(factory()).then((body): [RequestInfo | URL, RequestInit] => [
          target,
          { ...base, body },
        ])
      }
      const bytes = copy.bytes()
      if (!bytes) throw new TypeError('This request body can only be sent once')
      return [target, { ...base, body: bytes }]
    },
    release: copy.release,
  }
}
