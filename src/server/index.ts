// The server side of session-fetch: sessions of many users on one server, kept server-side per user key
// (`sessionPool`) or carried by the browser in a sealed cookie (`cookieSessions`).

export type { CookieOptions, RequestLike } from './cookie-header.js'
export {
  type CookieSession,
  type CookieSessions,
  type CookieSessionsOptions,
  cookieSessions,
} from './cookie-sessions.js'
export { type SessionPool, type SessionPoolOptions, sessionPool } from './pool.js'
