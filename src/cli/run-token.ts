import { SessionExpiredError } from '../errors/session-expired-error.js'
import { type Context, type Options, storeKind } from './context.js'
import { CliError, EXIT, LOGIN_HINT } from './exit.js'

/**
 * `session-fetch token [--json]`: a valid access token on stdout and nothing else, for
 * `curl -H "Authorization: Bearer $(session-fetch token)"`. It is the token a request of `api` would send now
 * (`accessToken()`): in the refresh window the current one, with the shared refresh started behind it and saved
 * before the command exits; past the must-refresh margin, the one that refresh brings.
 */
export async function token(context: Context, options: Options<'token'>): Promise<number> {
  const { io } = context
  const global = context.globals(options)
  const { baseURL, profile } = await context.target(global)
  const client = context.client(
    baseURL,
    await context.store(global, context.keyOf(global, profile), storeKind(profile)),
  )
  let printed: string
  let record: Awaited<ReturnType<typeof client.store.read>>['record']
  try {
    if (!(await client.plantly.getSession())) {
      throw new CliError(
        `profile ${JSON.stringify(global.profile)} is not logged in`,
        EXIT.noSession,
        LOGIN_HINT,
      )
    }
    printed = await client.plantly.accessToken()
    await client.plantly.close() // a refresh started behind the token lands and is saved
    record = (await client.store.read()).record
  } catch (error) {
    if (error instanceof SessionExpiredError) {
      throw new CliError('the session has expired', EXIT.noSession, LOGIN_HINT)
    }
    throw error
  } finally {
    await client.close()
  }
  // A refresh that landed meanwhile brought a newer token: that one, with the expiry the store knows for it.
  if (record && record.session.access_token !== printed) printed = record.session.access_token
  if (options.json) {
    const known = record?.session.access_token === printed ? record : undefined
    const expires_at = known?.expiresAt === undefined ? null : new Date(known.expiresAt).toISOString()
    const token_type = known?.session.token_type ?? 'bearer'
    io.stdout.write(`${JSON.stringify({ access_token: printed, expires_at, token_type })}\n`)
  } else {
    io.stdout.write(`${printed}\n`)
  }
  return EXIT.ok
}
