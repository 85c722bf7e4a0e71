import type { ProtocolContext, SessionProtocol } from './protocol.js'
import type { Session } from './session.js'

// Ending sessions on the server (the protocol's `logout`): the sessions a logout cleared, and the ones an instance
// dropped. Loaded on first use, like the session call it makes.

/** What ending a session needs from the refresh coordinator. */
export interface EndingContext {
  readonly protocol: Pick<SessionProtocol, 'logout'>
  /**
   * One session call, bounded by `refreshTimeoutMs` and aborted with `outer`; made also once the client is
   * closing (a logout only ends a session, and one under way when close() was called completes).
   */
  send(outer: AbortSignal | undefined, run: (context: ProtocolContext) => Promise<void>): Promise<void>
  /** The refresh tokens this instance saw rotated, or presented by a renewal still under way (see {@link present}). */
  readonly presented: Set<string>
}

/**
 * End `session` on the server. A refresh token this instance saw rotated (its refresh brought a session back) is
 * never sent again: such a session is ended with its access token only. `mayRenew: false` ends it with its
 * access token only in any case.
 */
export async function end(
  context: EndingContext,
  session: Session,
  outer: AbortSignal | undefined,
  mayRenew = true,
): Promise<void> {
  const { protocol } = context
  const logout = protocol.logout
  if (!logout) return
  const ended: Session = { ...session }
  if (session.refresh_token) {
    if (!mayRenew || context.presented.has(session.refresh_token)) delete ended.refresh_token
    else present(context.presented, session.refresh_token) // a logout may renew with it once: it is spent after that
  }
  await context.send(outer, (call) => logout.call(protocol, ended, call))
}

/**
 * End a session nobody will use (replaced by a login, or a token set whose write lost) with its access token only.
 * Its refresh token is never presented: another instance may be refreshing with it right now, outside any lock
 * this instance holds, and presenting it twice would trip the server's reuse detection.
 */
export function retire(context: EndingContext, session: Session): Promise<void> {
  return end(context, session, undefined, false)
}

/**
 * Refresh tokens presented to the server whose answer was a session: the server rotated them, so they are never
 * presented again (a logout ends such a session with its access token only). A refresh that brought no session
 * back (an error status, a network error, a timeout) takes its token off the list: the client cannot tell an
 * answer that was lost from a request that never arrived, the next refresh presents that token again, and so
 * may a logout's renewal, which is then the only way to end the session on the server.
 */
export function present(presented: Set<string>, refreshToken: string): void {
  presented.add(refreshToken)
  if (presented.size > 32) presented.delete(presented.values().next().value as string)
}
