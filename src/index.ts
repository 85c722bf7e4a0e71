export type {
  ChangeSource,
  ExpiredEvent,
  ExpiredReason,
  SessionEventMap,
  SessionEventName,
} from './core/events.js'
export type { SessionFetchOptions } from './core/options.js'
export type { PlantlyCredentials, ProtocolContext, SessionProtocol } from './core/protocol.js'
export {
  accessTokenLifetimeMs,
  type Grant,
  isSendableToken,
  parseSession,
  refreshDueAt,
  type Session,
  type SessionRecord,
  toRecord,
} from './core/session.js'
export type { CallOptions, SessionCore, SessionStats } from './core/session-core.js'
export type {
  ChangeReason,
  LockGrant,
  LockOptions,
  SessionStore,
  StoreChange,
  StoreSnapshot,
} from './core/store.js'
export { createSessionFetch, type SessionFetch } from './create-session-fetch.js'
export { InvalidResponseError } from './errors/invalid-response-error.js'
export { LoginError } from './errors/login-error.js'
export { LogoutError } from './errors/logout-error.js'
export { OptionError } from './errors/option-error.js'
export { RedirectError } from './errors/redirect-error.js'
export { RefreshError } from './errors/refresh-error.js'
export { ResponseError } from './errors/response-error.js'
export { SessionExpiredError } from './errors/session-expired-error.js'
export {
  isSessionFetchError,
  SessionFetchError,
  type SessionFetchErrorCode,
} from './errors/session-fetch-error.js'
export { SessionRejectedError } from './errors/session-rejected-error.js'
export { StoreError } from './errors/store-error.js'
export { type PlantlySessionsOptions, plantlySessions } from './protocols/plantly/plantly-protocol.js'
export { memoryStore } from './stores/memory/memory-store.js'
