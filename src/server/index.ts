// The server side of session-fetch: sessions of many users on one server, kept server-side per user key
// (`sessionPool`) or carried by the browser in a sealed cookie (`cookieSessions`).
export { type SessionPool, type SessionPoolOptions, sessionPool } from './pool.js'
