import { refreshDueAt } from '../core/session.js'
import { SessionExpiredError } from '../errors/session-expired-error.js'
import type { Context, Options } from './context.js'
import { CliError, EXIT, LOGIN_HINT } from './exit.js'

/** The client's default refresh window: a token this close to its expiry is renewed before it is printed. */
const REFRESH_WINDOW_MS = 30_000

/**
 * `session-fetch token [--json]`: a valid access token on stdout and nothing else, refreshed first when it is due
 * (as a request of `api` would find it), for `curl -H "Authorization: Bearer $(session-fetch token)"`.
 */
export async function token(context: Context, options: Options<'token'>): Promise<number> {
  const { io } = context
  const global = context.globals(options)
  const { baseURL, profile } = await context.target(global)
  const { plantly, store, close } = context.client(baseURL, global, context.keyOf(global, profile))
  try {
    let snapshot = await store.read()
    if (!snapshot.record) {
      throw new CliError(
        `profile ${JSON.stringify(global.profile)} is not logged in`,
        EXIT.noSession,
        LOGIN_HINT,
      )
    }
    if (Date.now() >= refreshDueAt(snapshot.record, REFRESH_WINDOW_MS)) {
      await plantly.refresh()
      snapshot = await store.read()
    }
    const record = snapshot.record
    if (!record) throw new CliError('the session has expired', EXIT.noSession, LOGIN_HINT)
    const { access_token, token_type } = record.session
    if (options.json) {
      const expires_at = record.expiresAt === undefined ? null : new Date(record.expiresAt).toISOString()
      io.stdout.write(`${JSON.stringify({ access_token, expires_at, token_type })}\n`)
    } else {
      io.stdout.write(`${access_token}\n`)
    }
    return EXIT.ok
  } catch (error) {
    if (error instanceof SessionExpiredError) {
      throw new CliError('the session has expired', EXIT.noSession, LOGIN_HINT)
    }
    throw error
  } finally {
    await close()
  }
}
