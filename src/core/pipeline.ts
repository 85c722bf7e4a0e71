import { defaultIsUnauthorized } from './options.js'
import type { SessionProtocol } from './protocol.js'
import type { SessionCore } from './session-core.js'

/** One attempt of a request, as an adapter sent it. */
export interface Attempt {
  /** The access token it carried; undefined when it went out without one (no session). */
  readonly token: string | undefined
  /** The request's method (a redirected answer's origin is checked with it). */
  readonly method: string
  /** Whether the request can be sent again with identical bytes. */
  readonly replayable: boolean
  /** This attempt is the one replay: whatever it answers is the caller's. */
  readonly replay: boolean
  /** The request's absolute URL (the `challenge` event names it, without its query). */
  readonly url: string
}

/** What an adapter knows of an answer, whatever shape its client gives it. */
export interface Answer {
  readonly status: number
  /** A response header by its lower-case name; several values joined by `, `. */
  header(name: string): string | null | undefined
  /** The URL that answered, when the client followed redirects and says where to. */
  readonly url?: string | undefined
  /** The answer as a fetch `Response`, for a custom `isUnauthorized` (built only then). */
  response(): Response
}

/**
 * The one request pipeline behind every adapter: which token to send, whether an answer means "this token was
 * refused", and whether to replay with a new one. Adapters only translate their client's request and response
 * shapes; none decides on its own when to refresh or replay.
 */
export interface Pipeline {
  /**
   * True when the session covers a request to this absolute URL: it should carry the session (its allowed origins,
   * not the protocol's own endpoints). Not to be confused with `authorize`, which presents a token.
   */
  covers(url: string, method: string): boolean
  /** How much of a streamed body an adapter keeps while sending it, to replay it after a refusal (0: none). */
  readonly replayBufferBytes: number
  /**
   * The token for a first attempt (undefined: send without one). A promise only when it has to wait. Rejects with
   * ClosedError once the client is closed, unless `again` (the same request asks again before its replay).
   */
  tokenFor(signal?: AbortSignal, again?: boolean): string | undefined | Promise<string | undefined>
  /** False when an answer with this status cannot be a refusal: the adapter gives it back without asking more. */
  mayRefuse(status: number): boolean
  /**
   * The headers presenting `token` on one attempt, when the protocol binds tokens to each request (DPoP);
   * undefined: `Authorization: Bearer`. Adapters call it for every attempt, replays included.
   */
  readonly authorize?: SessionProtocol['authorize']
  /** Whether an answer asks for the same request once more with the same token (a DPoP nonce): retry it once. */
  readonly challenged?: SessionProtocol['challenged']
  /**
   * What to do with an answer. `undefined` (synchronously): give it back. Otherwise a promise of the token to
   * replay with, or of undefined to give it back after all (the session is gone). Rejects with RefreshError or
   * LoginError when the renewal could not complete or was refused.
   */
  after(attempt: Attempt, answer: Answer, signal?: AbortSignal): undefined | Promise<string | undefined>
}

/** What the pipeline asks of the session core: its token decisions, never its own calls (login, logout…). */
export type PipelineCore = Pick<
  SessionCore<unknown>,
  'covers' | 'isUnauthorized' | 'token' | 'afterUnauthorized' | 'noteReplay' | 'noteRefused' | 'challenged'
>

/** What the pipeline asks of the protocol: how a token is presented, and its challenges (DPoP). */
export type PipelineProtocol = Pick<SessionProtocol, 'authorize' | 'challenged'>

export function createPipeline(
  core: PipelineCore,
  replayBufferBytes: number,
  protocol?: PipelineProtocol,
): Pipeline {
  const custom = core.isUnauthorized === defaultIsUnauthorized ? undefined : core.isUnauthorized

  return {
    covers: core.covers,
    replayBufferBytes,
    tokenFor: core.token,
    mayRefuse: (status) => status === 401 || custom !== undefined,
    authorize: protocol?.authorize?.bind(protocol),
    challenged: protocol?.challenged?.bind(protocol),
    after(attempt, answer, signal) {
      const { status } = answer
      if (custom) {
        if (!(Number.isInteger(status) && status >= 200 && status <= 599 && custom(answer.response()))) return
      } else {
        if (status !== 401) return
        // An `insufficient_…` error says what the token lacks (RFC 6750 §3.1, RFC 9470, claims challenges): a
        // refresh with the claims asked for, or nothing a refresh can give. Loaded only for such an answer.
        const challenge = answer.header('www-authenticate')
        if (challenge?.includes('insufficient_')) {
          // A chunk that did not load: the answer is taken for an ordinary refusal (the next one loads it again).
          return import('./challenge-answer.js').then(
            (module) => module.answerChallenge(challenge, attempt, answer, signal, core, decide),
            () => decide(attempt, answer, signal),
          )
        }
      }
      return decide(attempt, answer, signal)
    },
  }

  function decide(
    attempt: Attempt,
    answer: Answer,
    signal?: AbortSignal,
    claims?: string,
  ): undefined | Promise<string | undefined> {
    // A redirect led to an origin the session does not cover: its 401 says nothing about our token.
    if (answer.url !== undefined && !core.covers(answer.url, attempt.method)) return undefined
    if (attempt.replay) {
      if (attempt.token !== undefined) core.noteRefused(attempt.token)
      return undefined
    }
    if (!attempt.replayable) {
      // The body is gone: give this answer back, but still renew the session for the calls that follow.
      if (attempt.token !== undefined)
        core.afterUnauthorized(attempt.token, undefined, claims).catch(() => undefined)
      return undefined
    }
    return core.afterUnauthorized(attempt.token, signal, claims).then((next) => {
      if (next !== undefined) core.noteReplay()
      return next
    })
  }
}
