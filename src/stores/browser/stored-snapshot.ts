import { isSendableToken } from '../../core/parse-session.js'
import type { Session, SessionRecord } from '../../core/session.js'
import type { ChangeReason, StoreSnapshot } from '../../core/store.js'

const REASONS: ReadonlySet<unknown> = new Set<ChangeReason>(['login', 'refresh', 'logout', 'expired'])

/**
 * Read a snapshot back from IndexedDB or a BroadcastChannel message. Whatever another script of the origin (or
 * another version of this library) left there is checked, never trusted: a value that is not a snapshot reads as
 * an empty store at version 0, a record that is not a usable session as no session at its version.
 */
export function toSnapshot(value: unknown): StoreSnapshot {
  if (!isObject(value) || !isVersion(value.version)) return Object.freeze({ version: 0, record: undefined })
  return Object.freeze({
    version: value.version,
    record: toRecord(value.record),
    reason: REASONS.has(value.reason) ? (value.reason as ChangeReason) : undefined,
    writer: typeof value.writer === 'string' ? value.writer : undefined,
  })
}

/** The version a stored value counts as, for compare-and-set (the same reading as {@link toSnapshot}). */
export function versionOf(value: unknown): number {
  return isObject(value) && isVersion(value.version) ? value.version : 0
}

function toRecord(value: unknown): SessionRecord | undefined {
  if (!isObject(value) || !isObject(value.session) || !isTime(value.receivedAt)) return undefined
  const raw = value.session
  if (!isSendableToken(raw.access_token)) return undefined
  if (raw.refresh_token !== undefined && !isSendableToken(raw.refresh_token)) return undefined
  if (value.expiresAt !== undefined && !isTime(value.expiresAt)) return undefined
  const issuer = value.issuer
  if (issuer !== undefined && (typeof issuer !== 'string' || issuer === '')) return undefined
  const session: Session = {
    type: typeof raw.type === 'string' ? raw.type : 'auth.session',
    token_type: typeof raw.token_type === 'string' ? raw.token_type : 'bearer',
    access_token: raw.access_token,
  }
  if (raw.refresh_token !== undefined) session.refresh_token = raw.refresh_token
  if (typeof raw.expires_in === 'number') session.expires_in = raw.expires_in
  return Object.freeze({
    session: Object.freeze(session),
    receivedAt: value.receivedAt,
    expiresAt: value.expiresAt,
    ...(issuer === undefined ? {} : { issuer }),
  })
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null
}

function isVersion(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}

function isTime(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value)
}
