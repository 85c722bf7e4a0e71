// The token exchange grant (RFC 8693 §2.1), as a login: its parameters checked (errors name the field, never its
// value), and its tokens asked of their suppliers at the time of each exchange. Loaded on first use: only a client
// that exchanges tokens needs it.
import { isSendableToken } from '../../core/parse-session.js'
import { describe, rejectUnknownOptions } from '../../core/validate.js'
import { OptionError } from '../../errors/option-error.js'
import type { TokenExchangeCredentials, TokenParams, TokenSupplier } from './grants.js'
import { parseResources, parseScope } from './options.js'

const GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange'
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token'
// RFC 8693 §3: a token type identifier is an absolute URI (a URN for the registered ones).
const ABSOLUTE_URI = /^[a-z][a-z\d+.-]*:[^\s]+$/i

const FIELDS = {
  grant: true,
  subjectToken: true,
  subjectTokenType: true,
  audience: true,
  resource: true,
  scope: true,
  requestedTokenType: true,
  actorToken: true,
  actorTokenType: true,
} satisfies Record<keyof TokenExchangeCredentials, true>

/**
 * The token request of one exchange. The subject token (and the actor token) is asked of its supplier now, once
 * per exchange, with the exchange's signal: `(options) => parent.accessToken(options)` gives the parent session's
 * current token, and gives up when the exchange does (its deadline, a logout, close()).
 */
export async function exchangeGrant(credentials: object, signal: AbortSignal): Promise<TokenParams> {
  try {
    rejectUnknownOptions(credentials, FIELDS)
  } catch (error) {
    const unknown = error as OptionError
    throw new OptionError(`credentials.${unknown.option}`, unknown.message.replace(/^[^:]*: /, ''))
  }
  const given = credentials as Record<string, unknown>
  const actor = given.actorToken !== undefined
  if (actor !== (given.actorTokenType !== undefined)) {
    // §2.1: actor_token_type is REQUIRED with actor_token, and must not be sent without it.
    throw new OptionError(
      actor ? 'credentials.actorTokenType' : 'credentials.actorToken',
      actor ? 'is required with `actorToken`' : 'is missing: `actorTokenType` is given without it',
    )
  }
  const params: TokenParams = {
    grant_type: GRANT,
    subject_token_type: tokenType(given.subjectTokenType ?? ACCESS_TOKEN, 'subjectTokenType'),
    requested_token_type: optional(given.requestedTokenType, (value) =>
      tokenType(value, 'requestedTokenType'),
    ),
    actor_token_type: optional(given.actorTokenType, (value) => tokenType(value, 'actorTokenType')),
    audience: optional(given.audience, audiences),
    resource: optional(given.resource, resources),
    scope: parseScope(given.scope, 'credentials.scope'),
  }
  checkSupplier(given.subjectToken, 'subjectToken')
  if (actor) checkSupplier(given.actorToken, 'actorToken')
  params.subject_token = await supplied(given.subjectToken, 'subjectToken', signal)
  if (actor) params.actor_token = await supplied(given.actorToken, 'actorToken', signal)
  return params
}

function optional<T>(value: unknown, parse: (value: unknown) => T): T | undefined {
  return value === undefined ? undefined : parse(value)
}

function tokenType(value: unknown, field: string): string {
  if (typeof value !== 'string' || !ABSOLUTE_URI.test(value)) {
    throw new OptionError(
      `credentials.${field}`,
      `expected a token type URI such as "${ACCESS_TOKEN}", got ${describe(value)}`,
    )
  }
  return value
}

// §2.1: audience is the logical name of a target service, any string; several may be given.
function audiences(value: unknown): readonly string[] {
  const list = typeof value === 'string' ? [value] : Array.isArray(value) ? (value as unknown[]) : []
  if (list.length === 0 || list.some((entry) => typeof entry !== 'string' || entry === '')) {
    throw new OptionError(
      'credentials.audience',
      `expected a non-empty string or a list of them, got ${describe(value)}`,
    )
  }
  return list as string[]
}

// §2.1: resource is an absolute URI without a fragment (as RFC 8707's); several may be given, none is an error.
function resources(value: unknown): readonly string[] {
  const list = parseResources(value ?? [], 'credentials.resource')
  if (list.length === 0) {
    throw new OptionError('credentials.resource', `expected a URI or a list of URIs, got ${describe(value)}`)
  }
  return list
}

function checkSupplier(value: unknown, field: string): void {
  if (typeof value !== 'function' && !isSendableToken(value)) {
    // Never echo the value: it is a token.
    throw new OptionError(
      `credentials.${field}`,
      `expected a token (a non-empty string without spaces) or a function returning one (got ${describe(value, false)})`,
    )
  }
}

async function supplied(value: unknown, field: string, signal: AbortSignal): Promise<string> {
  const token = typeof value === 'function' ? await (value as TokenSupplier)({ signal }) : value
  if (!isSendableToken(token)) {
    throw new OptionError(
      `credentials.${field}`,
      `expected the function to return a token (a non-empty string without spaces), got ${describe(token, false)}`,
    )
  }
  return token
}
