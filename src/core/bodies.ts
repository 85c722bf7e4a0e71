/**
 * What a request needs to be sent once and, after a 401, replayed with identical bytes and headers.
 * `attempt(token)` builds the arguments for one transport call with that Bearer token (undefined: none).
 */
export interface PreparedRequest {
  readonly replayable: boolean
  attempt(token: string | undefined): [RequestInfo | URL, RequestInit | undefined]
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
  return {
    bytes: await encoded.arrayBuffer(),
    contentType: encoded.headers.get('content-type') ?? 'multipart/form-data',
  }
}

/**
 * Prepare a request for sending and replaying. Synchronous for the common cases (no body, or a string, bytes,
 * Blob or URLSearchParams body); a promise only for FormData (serialized once, so the multipart boundary and
 * bytes are identical on replay) and for a Request with a body (read once into bytes).
 *
 * `headers` are the request's headers (init's, else the Request's), built once by the caller; every attempt
 * sets its Authorization on them. A ReadableStream or async-iterable body is never buffered: the request is
 * sent once and not replayed.
 */
export function prepareRequest(
  request: Request | undefined,
  url: string,
  init: RequestInit | undefined,
  headers: Headers,
): PreparedRequest | Promise<PreparedRequest> {
  const target = request ?? url
  const initBody = init?.body
  if (initBody !== undefined && initBody !== null) {
    if (initBody instanceof FormData) return formRequest(target, init, headers, initBody)
    return build(target, init, headers, isReplayableBody(initBody), undefined)
  }
  if (request && request.body !== null) return bufferRequest(request, init, headers)
  return build(target, init, headers, true, undefined)
}

function build(
  target: RequestInfo | URL,
  init: RequestInit | undefined,
  headers: Headers,
  replayable: boolean,
  body: Body | undefined,
): PreparedRequest {
  const base: RequestInit = body === undefined ? { ...init, headers } : { ...init, headers, body }
  let sent = false
  return {
    replayable,
    attempt(token) {
      if (sent && !replayable) throw new Error('This request body can only be sent once')
      sent = true
      if (token === undefined) headers.delete('authorization')
      else headers.set('authorization', `Bearer ${token}`)
      return [target, base]
    },
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
