/**
 * What a request needs to be sent once and, after a 401 or through a redirect, sent again with identical bytes
 * and headers. `attempt(token)` builds the arguments for one transport call with that Bearer token (undefined:
 * none); every call after the first sends the body again.
 */
export interface PreparedRequest {
  /** Whether it can be sent again with the same bytes (for a streamed body: once the first attempt was sent). */
  readonly replayable: boolean
  attempt(
    token: string | undefined,
    /** The headers that present the token on this attempt (DPoP); undefined: `Authorization: Bearer`. */
    presented?: Record<string, string>,
  ): [RequestInfo | URL, RequestInit] | Promise<[RequestInfo | URL, RequestInit]>
  /** Drop the copy of a streamed body (its answer arrived and needs no replay). */
  release(): void
}

/** A `RequestInit` with the one extension the session understands. */
export interface SessionRequestInit extends RequestInit {
  /** Required by fetch for a streamed body (Node, Chromium); not in TypeScript's DOM types yet. */
  duplex?: 'half'
  /**
   * Makes the body again for a replay after a 401, for a body that cannot be sent twice (a stream) and may be
   * larger than `replayBufferBytes`: called at most once, only when the request is replayed.
   */
  replayBody?: () => BodyInit | Promise<BodyInit>
}

/**
 * A copy of what a streamed body sent, kept up to `limit` bytes: if the whole body was sent and fit, a refused
 * request can be replayed with the same bytes. Chunks pass through unchanged and unbuffered.
 */
export interface BodyCopy {
  /** A chunk went out. */
  add(chunk: Uint8Array): void
  /** The body went out whole. */
  end(): void
  /** The bytes sent, when the whole body went out and fit in the limit; undefined otherwise. */
  bytes(): Uint8Array<ArrayBuffer> | undefined
  /** Forget the copy (the answer arrived and needs no replay). */
  release(): void
}

export function createBodyCopy(limit: number): BodyCopy {
  let chunks: Uint8Array[] | undefined = limit > 0 ? [] : undefined
  let size = 0
  let complete = false
  return {
    add(chunk: Uint8Array): void {
      if (!chunks) return
      size += chunk.byteLength
      if (size > limit)
        chunks = undefined // over the bound: nothing is kept, the 401 goes back
      else {
        const kept = new Uint8Array(chunk.byteLength) // a copy: a Node Buffer's slice() would share memory
        kept.set(chunk)
        chunks.push(kept)
      }
    },
    end(): void {
      complete = true
    },
    bytes(): Uint8Array<ArrayBuffer> | undefined {
      if (!complete || !chunks) return undefined
      const all = new Uint8Array(size)
      let at = 0
      for (const chunk of chunks) {
        all.set(chunk, at)
        at += chunk.byteLength
      }
      return all
    },
    release(): void {
      chunks = undefined
    },
  }
}

/** A stream that sends what `source` sends and copies it into `copy`. */
export function copyingStream(
  source: ReadableStream<Uint8Array>,
  copy: BodyCopy,
): ReadableStream<Uint8Array> {
  return source.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        copy.add(chunk)
        controller.enqueue(chunk)
      },
      flush() {
        copy.end()
      },
    }),
  )
}

/** An async iterable that yields what `source` yields and copies it into `copy`. */
export async function* copyingIterable(
  source: AsyncIterable<Uint8Array | string>,
  copy: BodyCopy,
): AsyncGenerator<Uint8Array> {
  const encoder = new TextEncoder()
  for await (const part of source) {
    const chunk = typeof part === 'string' ? encoder.encode(part) : part
    copy.add(chunk)
    yield chunk
  }
  copy.end()
}

export function isAsyncIterable(value: unknown): value is AsyncIterable<Uint8Array | string> {
  return typeof (value as { [Symbol.asyncIterator]?: unknown } | null)?.[Symbol.asyncIterator] === 'function'
}

/** FormData as the bytes and Content-Type (with its boundary) fetch would send: serialized once, replayed as is. */
export async function serializeFormData(
  form: FormData,
): Promise<{ bytes: ArrayBuffer; contentType: string }> {
  const encoded = new Request('http://localhost/', { method: 'POST', body: form })
  // The Content-Type first: Bun computes it from the unread body and answers null once the body is read.
  const contentType = encoded.headers.get('content-type') ?? 'multipart/form-data'
  return { bytes: await encoded.arrayBuffer(), contentType }
}

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

/**
 * Prepare a request for sending and sending again, for the common cases: no body, or a string, bytes, Blob or
 * URLSearchParams body (init's, else a Request without one), sent again as it is. Undefined for the others,
 * which `prepareSent` (`sent-bodies.ts`, which the fetch adapter loads on first use) prepares: FormData, a stream
 * or async iterable, a Request's body.
 *
 * `headers` are the request's headers (init's, else the Request's), built once by the caller; every attempt
 * sets its Authorization on them.
 */
export function prepareRequest(
  request: Request | undefined,
  url: string,
  init: SessionRequestInit | undefined,
  headers: Headers,
): PreparedRequest | undefined {
  const body = init?.body
  return isReplayableBody(body) && (body != null || !request || request.body === null)
    ? resent(request ?? url, init, headers)
    : undefined
}

/** A request whose body (none, or one that {@link isReplayableBody}) is sent again as it is. */
export function resent(
  target: RequestInfo | URL,
  init: SessionRequestInit | undefined,
  headers: Headers,
): PreparedRequest {
  const base: SessionRequestInit = { ...init, headers }
  delete base.replayBody
  return {
    replayable: true,
    attempt(token, presented) {
      withToken(headers, token, presented)
      return [target, base]
    },
    release() {},
  }
}

/** Put the token (as `Authorization: Bearer`, or the headers that present it) on an attempt's headers. */
export function withToken(
  headers: Headers,
  token: string | undefined,
  presented?: Record<string, string>,
): void {
  if (token === undefined) headers.delete('authorization')
  else headers.set('authorization', `Bearer ${token}`)
  for (const name in presented) headers.set(name, presented[name] as string)
}
