// What the pipeline does with a 401 whose WWW-Authenticate names an `insufficient_…` error. Loaded on first use:
// only such an answer needs it. It imports nothing the entry imports (see lazy.ts): the parser is its own.
import { parseWWWAuthenticate } from './challenges.js'
import type { ChallengeEvent } from './events.js'

/** What is read of the attempt (the pipeline's Attempt; not imported from it: the pipeline imports this file). */
interface Refused {
  readonly method: string
  readonly replay: boolean
  readonly url: string
}

/** The pipeline's decision on a refused answer; `claims`: a claims challenge's request, for the refresh. */
type Decide<A, B> = (
  attempt: A,
  answer: B,
  signal?: AbortSignal,
  claims?: string,
) => undefined | Promise<string | undefined>

/**
 * - `insufficient_claims` with a `claims` parameter (base64 of a JSON claims request): one refresh that sends the
 *   decoded claims to the token endpoint, then one replay (`decide` with the claims; a burst of them shares the
 *   refresh). The same challenge to the replay, or one whose claims cannot be read, goes back to the caller with a
 *   `challenge` event.
 * - `insufficient_user_authentication` (RFC 9470) and `insufficient_scope` (RFC 6750 §3.1): no refresh can answer
 *   them. The 401 goes back as it is, with a `challenge` event saying what to ask the user for.
 * Any other `insufficient_…` text (in a realm, say) is an ordinary 401.
 */
export function answerChallenge<A extends Refused, B extends { readonly url?: string | undefined }>(
  header: string,
  attempt: A,
  answer: B,
  signal: AbortSignal | undefined,
  core: { covers(url: string, method: string): boolean; challenged(event: ChallengeEvent): void },
  decide: Decide<A, B>,
): undefined | Promise<string | undefined> {
  const challenge = parseWWWAuthenticate(header).find((one) => KNOWN.has(one.params.error as string))
  if (!challenge) return decide(attempt, answer, signal)
  // A redirect led to an origin the session does not cover: its 401 says nothing about our token.
  if (answer.url !== undefined && !core.covers(answer.url, attempt.method)) return undefined
  const { params } = challenge
  const error = params.error as ChallengeEvent['error']
  const claims = error === 'insufficient_claims' ? claimsOf(params.claims) : undefined
  const event: ChallengeEvent = { error, url: (answer.url ?? attempt.url).replace(/[?#].*$/s, '') }
  if (params.scope !== undefined) event.scope = params.scope
  if (params.acr_values !== undefined) event.acrValues = params.acr_values
  const maxAge = params.max_age
  if (maxAge !== undefined && /^\d{1,15}$/.test(maxAge)) event.maxAge = Number(maxAge)
  if (claims === undefined) {
    core.challenged(event)
    return undefined
  }
  event.claims = claims
  // The replay's answer is the caller's (decide notes its token as refused: a new request meeting the same
  // challenge with it soon after starts no refresh either); a first attempt gets the refresh with the claims.
  const decided = decide(attempt, answer, signal, attempt.replay ? undefined : claims)
  if (!decided) {
    if (attempt.replay) core.challenged(event)
    return undefined
  }
  return decided.then((next) => {
    if (next === undefined) core.challenged(event) // given back: the session made no refresh for it
    return next
  })
}

const KNOWN = new Set(['insufficient_claims', 'insufficient_user_authentication', 'insufficient_scope'])

/** The claims request a challenge carries: base64 (or base64url) of a JSON object, as a JSON text; else undefined. */
function claimsOf(encoded: string | undefined): string | undefined {
  if (!encoded) return undefined
  try {
    const binary = atob(encoded.replace(/-/g, '+').replace(/_/g, '/'))
    const text = new TextDecoder('utf-8', { fatal: true }).decode(
      Uint8Array.from(binary, (char) => char.charCodeAt(0)),
    )
    const parsed: unknown = JSON.parse(text)
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? text : undefined
  } catch {
    return undefined
  }
}
