// The Plantly Sessions API's session calls (login, refresh, logout), loaded on first use by plantly-protocol.ts:
// the request path never makes one. Like every module loaded that way, it imports nothing the entry imports: the
// protocol hands over the session call and the error classes (see `lazy` in src/core/lazy.ts).
import type { ProtocolContext } from '../../core/protocol.js'
import type { Session, TokenSet } from '../../core/session.js'
import { parseSessionWith } from '../../core/session-body.js'
import type { InvalidResponseError } from '../../errors/invalid-response-error.js'
import type { OptionError } from '../../errors/option-error.js'
import type { ResponseError } from '../../errors/response-error.js'
import type { SessionRejectedError } from '../../errors/session-rejected-error.js'
import type { SessionCallInit } from '../session-call-init.js'
import type { PlantlyCredentials } from './plantly-credentials.js'

/** What a protocol instance hands its calls: its endpoint, its retry options, the session call and the errors. */
export interface PlantlyCallContext {
  readonly endpoint: string
  readonly retries: number
  readonly retryDelayMs: number
  readonly sessionCall: (
    init: SessionCallInit,
    context: ProtocolContext,
  ) => Promise<Response & { _data?: unknown }>
  readonly InvalidResponseError: typeof InvalidResponseError
  readonly OptionError: typeof OptionError
  readonly ResponseError: typeof ResponseError
  readonly SessionRejectedError: typeof SessionRejectedError
}

const REJECTED = new Set([400, 401, 403])

// `known`: the other tokens of the session the call acts on, which an error answer must not show either.
function call(
  plantly: PlantlyCallContext,
  method: 'POST' | 'PUT' | 'DELETE',
  context: ProtocolContext,
  bearer?: string,
  body?: PlantlyCredentials,
  known: (string | undefined)[] = [],
) {
  const headers: Record<string, string> = { accept: 'application/json' }
  if (bearer !== undefined) headers.authorization = `Bearer ${bearer}`
  const retry = method === 'DELETE' ? 0 : plantly.retries
  const secrets = [bearer, body?.password, ...known]
  // json: a session is read as JSON whatever its content type says (text/plain and text/json are seen in the
  // wild); a body that is not JSON stays text, which the session's parser refuses by name.
  return plantly.sessionCall(
    {
      method,
      url: plantly.endpoint,
      headers,
      body: body && { ...body },
      retry,
      retryDelayMs: plantly.retryDelayMs,
      json: true,
      secrets,
    },
    context,
  )
}

function toTokenSet(plantly: PlantlyCallContext, response: Response & { _data?: unknown }): TokenSet {
  const date = Date.parse(response.headers.get('date') ?? '')
  return {
    session: parseSessionWith(plantly.InvalidResponseError, response._data, ['bearer']),
    serverDate: Number.isNaN(date) ? undefined : date,
  }
}

function refused(plantly: PlantlyCallContext, error: unknown): boolean {
  return error instanceof plantly.ResponseError && REJECTED.has(error.status)
}

function rejectOn(plantly: PlantlyCallContext, error: unknown): never {
  if (refused(plantly, error)) {
    throw new plantly.SessionRejectedError((error as ResponseError).status, { cause: error })
  }
  throw error
}

/** `POST` with email and password. */
export async function login(
  plantly: PlantlyCallContext,
  credentials: unknown,
  context: ProtocolContext,
): Promise<TokenSet> {
  const { email_address, password } = (credentials ?? {}) as Partial<PlantlyCredentials>
  if (typeof email_address !== 'string' || typeof password !== 'string') {
    throw new plantly.OptionError('credentials', 'expected { email_address: string, password: string }')
  }
  const response = await call(plantly, 'POST', context, undefined, { email_address, password }).catch(
    (error: unknown) => rejectOn(plantly, error),
  )
  return toTokenSet(plantly, response)
}

/** `PUT` with the refresh token. */
export async function refresh(
  plantly: PlantlyCallContext,
  session: Session,
  context: ProtocolContext,
): Promise<TokenSet> {
  if (!session.refresh_token) throw new plantly.SessionRejectedError(undefined)
  const response = await call(plantly, 'PUT', context, session.refresh_token, undefined, [
    session.access_token,
  ]).catch((error: unknown) => rejectOn(plantly, error))
  return toTokenSet(plantly, response)
}

// DELETE with this access token: true when the server ended the session, false when it refused the token.
async function endWith(
  plantly: PlantlyCallContext,
  accessToken: string,
  context: ProtocolContext,
  known: string[],
): Promise<boolean> {
  try {
    await call(plantly, 'DELETE', context, accessToken, undefined, known)
    return true
  } catch (error) {
    if (error instanceof plantly.ResponseError && error.status === 401) return false
    throw error
  }
}

/** `DELETE` with the access token; with an expired one, renewed once and ended with the fresh one. */
export async function logout(
  plantly: PlantlyCallContext,
  session: Session,
  context: ProtocolContext,
): Promise<void> {
  const { access_token, refresh_token } = session
  if (await endWith(plantly, access_token, context, refresh_token ? [refresh_token] : [])) return
  // The access token had expired, but the refresh token may still be alive on the server: renew once and end
  // the session with the fresh access token. A refused refresh token means it is already dead.
  if (!refresh_token) return
  let fresh: TokenSet
  try {
    fresh = toTokenSet(plantly, await call(plantly, 'PUT', context, refresh_token, undefined, [access_token]))
  } catch (error) {
    if (refused(plantly, error)) return
    throw error
  }
  // The server just renewed the session, so it is live: a refusal of its fresh access token is an error.
  await call(plantly, 'DELETE', context, fresh.session.access_token, undefined, [
    fresh.session.refresh_token,
    access_token,
    refresh_token,
  ])
}
