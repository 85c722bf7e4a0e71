import {
  type BodyCopy,
  copyingIterable,
  copyingStream,
  createBodyCopy,
  isAsyncIterable,
} from '../shared/body-copy.js'
import { serializeFormData } from '../shared/form-data.js'
import type { PreparedRequest, ResentRequest, resent, SessionRequestInit } from './prepared-request.js'

// The bodies that take more than a reference to be sent again, loaded by the fetch adapter on the first request
// that has one: FormData (serialized once), a stream or async iterable in init.body (copied as it is sent), and a
// Request's body (sent by fetch as it comes, copied from a clone read alongside). The adapter hands over its
// `resent`, which the entry uses too (see `lazy` in src/core/lazy.ts).

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
  resend: typeof resent,
): Promise<PreparedRequest> {
  const target = request ?? url
  const body = init?.body
  if (body instanceof FormData) {
    const { bytes, contentType } = await serializeFormData(body)
    if (!headers.has('content-type')) headers.set('content-type', contentType)
    return resend(target, { ...init, body: bytes }, headers)
  }
  const factory = init?.replayBody
  const copy = createBodyCopy(factory ? 0 : limit)
  if (body != null) {
    let first: unknown = body
    if (!factory && limit > 0) {
      if (body instanceof ReadableStream) first = copyingStream(body, copy)
      else if (isAsyncIterable(body)) first = copyingIterable(body, copy)
    }
    return sent(resend(target, init, headers), factory, first as BodyInit, copy)
  }
  const input = request as Request
  // A used body: `new Request()` throws fetch's own TypeError, so the call rejects as fetch would, nothing sent.
  if (input.bodyUsed) new Request(input)
  // fetch sends the Request's body itself, as it would without the session: with its length when it was made
  // from a string, bytes, a Blob, FormData or URLSearchParams, as a stream as it comes when it was made from one.
  // The copy is read from a clone (the two branches of a tee), at most `limit` bytes of it: past that, or once
  // released, the clone is cancelled and the body flows on to fetch alone.
  const reader = factory || limit <= 0 ? undefined : input.clone().body?.getReader()
  const prepared = sent(resend(target, init, headers), factory, undefined, copy)
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
// `replayBody` factory's body (once), else the copy when the whole body fit in it. `request` builds each
// attempt's arguments (its token on the headers) as the init gives them.
function sent(
  request: ResentRequest,
  factory: SessionRequestInit['replayBody'],
  first: BodyInit | undefined,
  copy: BodyCopy,
): PreparedRequest {
  let attempts = 0
  return {
    get replayable() {
      // A `replayBody` factory is called at most once: one attempt after the first.
      return factory ? attempts < 2 : copy.bytes() !== undefined
    },
    attempt(token, presented) {
      const [target, base] = request.attempt(token, presented)
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
