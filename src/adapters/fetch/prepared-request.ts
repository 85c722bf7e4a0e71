import { isReplayableBody } from '../shared/replayable-body.js'

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

/** A prepared request whose attempts are built at once: the same arguments every time, with that attempt's token. */
export interface ResentRequest extends PreparedRequest {
  attempt(token: string | undefined, presented?: Record<string, string>): [RequestInfo | URL, RequestInit]
}

/** A request whose body (none, or one that {@link isReplayableBody}) is sent again as it is. */
export function resent(
  target: RequestInfo | URL,
  init: SessionRequestInit | undefined,
  headers: Headers,
): ResentRequest {
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
