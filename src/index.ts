// The public surface of `session-fetch`: the factory, the default protocol, the memory store, the errors and the
// types a caller or a custom store/protocol needs. Deliberately private: the session core and its pipeline (the
// adapters reach it through the client, not a property), session parsing and expiry arithmetic.

export type { SessionRequestInit } from './adapters/fetch/prepared-request.js'
export type {
  ChallengeEvent,
  ChangeSource,
  ExpiredEvent,
  ExpiredReason,
  SessionEventMap,
  SessionEventName,
} from './core/events.js'
export type { Instrumentation } from './core/options.js'
export type { ProtocolContext, SessionProtocol } from './core/protocol.js'
export type { Grant, Session, SessionRecord, TokenSet } from './core/session.js'
export type { CallOptions, SessionStats } from './core/session-core.js'
export type {
  ChangeReason,
  LockGrant,
  LockOptions,
  SessionStore,
  StoreChange,
  StoreSnapshot,
} from './core/store.js'
export {
  createSessionFetch,
  type SessionFetch,
  type SessionFetchOptions,
} from './create-session-fetch.js'
export { ClosedError } from './errors/closed-error.js'
export { InvalidResponseError } from './errors/invalid-response-error.js'
export { type AnySessionFetchError, isSessionFetchError } from './errors/is-session-fetch-error.js'
export { LoginError } from './errors/login-error.js'
export { LogoutError } from './errors/logout-error.js'
export { OptionError } from './errors/option-error.js'
export { RedirectError } from './errors/redirect-error.js'
export { RefreshError } from './errors/refresh-error.js'
export { ResponseError } from './errors/response-error.js'
export { SessionExpiredError } from './errors/session-expired-error.js'
export { SessionFetchError, type SessionFetchErrorCode } from './errors/session-fetch-error.js'
export { SessionRejectedError } from './errors/session-rejected-error.js'
export { StoreError } from './errors/store-error.js'
export {
  type PlantlyCredentials,
  type PlantlySessionsOptions,
  plantlySessions,
} from './protocols/plantly/plantly-protocol.js'
export { memoryStore } from './stores/memory/memory-store.js'
