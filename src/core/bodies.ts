/**
 * What a request needs to be sent once and, after a 401, replayed with identical bytes and headers.
 * `attempt(token)` builds the arguments for one transport call with that Bearer token (undefined: none).
 */
export interface PreparedRequest {
  /** Whether it can be sent again with the same bytes (for a streamed body: once the first attempt was sent). */
  readonly replayable: boolean
  attempt(
    token: string | undefined,
    /** The headers that present the token on this attempt (DPoP); undefined: `Authorization: Bearer`. */
    presented?: Record<string, string>,
  ): [RequestInfo | URL, RequestInit | undefined] | Promise<[RequestInfo | URL, RequestInit | undefined]>
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

type Body = NonNullable<RequestInit['body']>

/**
 * Whether a body is sent again with the same bytes: nothing, a string, bytes (ArrayBuffer, typed arrays,
 * DataView), a Blob or URLSearchParams. Streams, async iterables and Node streams are read as they are sent;
 * FormData is replayable only once serialized ({@link serializeFormData}). The one rule every door uses.
 */
export function isReplayableBody(body: unknown): boolean {
  return (
    body === undefined ||
    body === null ||
    typeof body === 'string' ||
    body instanceof URLSearchParams ||
    body instanceof Blob ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body)
  )
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
 * Prepare a request for sending and replaying. Synchronous for the common cases (no body, or a string, bytes,
 * Blob or URLSearchParams body); a promise only for FormData (serialized once, so the multipart boundary and
 * bytes are identical on replay) and for a Request with a body (read once into bytes).
 *
 * `headers` are the request's headers (init's, else the Request's), built once by the caller; every attempt
 * sets its Authorization on them. A ReadableStream or async-iterable body is sent as it is read, and a copy of
 * what went out is kept up to `replayBufferBytes` (0: none): a refused request whose whole body fit is replayed
 * with those bytes; a `replayBody` factory in the init is used instead when there is one.
 */
export function prepareRequest(
  request: Request | undefined,
  url: string,
  init: SessionRequestInit | undefined,
  headers: Headers,
  replayBufferBytes = 0,
): PreparedRequest | Promise<PreparedRequest> {
  const target = request ?? url
  const initBody = init?.body
  if (initBody !== undefined && initBody !== null) {
    if (initBody instanceof FormData) return formRequest(target, init, headers, initBody)
    if (isReplayableBody(initBody)) return build(target, init, headers, true, undefined)
    return streamed(target, init, headers, initBody, replayBufferBytes)
  }
  if (request && request.body !== null) return bufferRequest(request, init, headers)
  return build(target, init, headers, true, undefined)
}

function withToken(headers: Headers, token: string | undefined, presented?: Record<string, string>): void {
  if (token === undefined) headers.delete('authorization')
  else headers.set('authorization', `Bearer ${token}`)
  for (const name in presented) headers.set(name, presented[name] as string)
}

function build(
  target: RequestInfo | URL,
  init: RequestInit | undefined,
  headers: Headers,
  replayable: boolean,
  body: Body | undefined,
): PreparedRequest {
  const base: RequestInit = body === undefined ? { ...init, headers } : { ...init, headers, body }
  delete (base as SessionRequestInit).replayBody
  let sent = false
  return {
    replayable,
    attempt(token, presented) {
      if (sent && !replayable) throw new Error('This request body can only be sent once')
      sent = true
      withToken(headers, token, presented)
      return [target, base]
    },
    release() {},
  }
}

// A body read as it is sent (a ReadableStream, an async iterable): replayed from a `replayBody` factory, or from
// a copy of what was sent when the whole body fit in `limit` bytes; else its refusal is given back.
function streamed(
  target: RequestInfo | URL,
  init: SessionRequestInit | undefined,
  headers: Headers,
  source: unknown,
  limit: number,
): PreparedRequest {
  const factory = init?.replayBody
  const copy = createBodyCopy(factory ? 0 : limit)
  let first: unknown = source
  if (!factory && limit > 0) {
    if (source instanceof ReadableStream) first = copyingStream(source, copy)
    else if (isAsyncIterable(source)) first = copyingIterable(source, copy)
  }
  const base: RequestInit = { ...init, headers }
  delete (base as SessionRequestInit).replayBody
  let sent = 0
  return {
    get replayable() {
      // A `replayBody` factory is called at most once: one attempt after the first.
      return factory ? sent < 2 : copy.bytes() !== undefined
    },
    attempt(token, presented) {
      withToken(headers, token, presented)
      if (sent++ === 0) return [target, { ...base, body: first as BodyInit }]
      if (factory) {
        return Promise.resolve(factory()).then(
          (body) => [target, { ...base, body }] as [RequestInfo | URL, RequestInit],
        )
      }
      const bytes = copy.bytes()
      copy.release()
      if (!bytes) throw new Error('This request body can only be sent once')
      return [target, { ...base, body: bytes }]
    },
    release: copy.release,
  }
}

async function formRequest(
  target: Request | string,
  init: RequestInit | undefined,
  headers: Headers,
  form: FormData,
): Promise<PreparedRequest> {
  const { bytes, contentType } = await serializeFormData(form)
  if (!headers.has('content-type')) headers.set('content-type', contentType)
  return build(target, init, headers, true, bytes)
}

async function bufferRequest(
  input: Request,
  init: RequestInit | undefined,
  headers: Headers,
): Promise<PreparedRequest> {
  // A Request's body is a stream whatever it was made from; read it once so the replay sends the same bytes.
  const bytes = await input.arrayBuffer()
  return build(input, init, headers, true, bytes)
}
