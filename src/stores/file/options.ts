import { basename, dirname, isAbsolute, join, resolve } from 'node:path'
import { describe, parseDuration, rejectUnknownOptions } from '../../core/validate.js'
import { OptionError } from '../../errors/option-error.js'
import { parseEncryptionKey } from '../encryption-key.js'
import { defaultDirectory } from './location.js'

/** Options of `fileStore`. */
export interface FileStoreOptions {
  /**
   * Names the session among this user's: the file is `<name>.json` in the default folder (see `path`).
   * Processes that use the same name share one session. Letters, digits, `.`, `_` and `-`.
   * @default 'default'
   */
  name?: string
  /**
   * The session file itself, instead of `<name>.json` in the default folder: `$XDG_STATE_HOME/session-fetch`,
   * else `~/Library/Application Support/session-fetch` (macOS), `%LOCALAPPDATA%\session-fetch` (Windows) or
   * `~/.local/state/session-fetch`. The lock files sit next to it, so its folder must be writable.
   * @example '/var/lib/billing/plantly-session.json'
   */
  path?: string
  /**
   * Seal the stored session with this 32-byte key (JWE compact, `dir` + `A256GCM`, via jose), so the file never
   * holds a bearer token in clear. Every process sharing the file needs the same key.
   * @example Buffer.from(process.env.SESSION_KEY, 'base64')
   */
  encryptionKey?: Uint8Array
  /**
   * The longest a lock of this file is held, and so the longest any wait for one lasts: a lock record seen
   * unchanged for this long is stale whatever lease end it claims (a clock set back, a holder on another host,
   * a forged record). A lock asked for longer (the core asks for `2 × refreshTimeoutMs + 1 s`) is granted this
   * long. Every process sharing the file should use the same value; keep it above `2 × refreshTimeoutMs + 1 s`.
   * @default 60_000
   */
  lockLeaseMs?: number
  /**
   * Told once per wait for a lock that passes a second: who holds it (pid and host name, as its lock file says;
   * undefined when the file does not say) and how long the wait lasts at most. The `session-fetch` command
   * prints it.
   * @default ignore
   */
  onLockWait?: (wait: LockWait) => void
  /**
   * Told of errors that no call can report: a change notification that could not be read, a watcher that
   * failed, a new session that could not be written after a refresh (calls that fail reject with a StoreError
   * themselves).
   * @default ignore
   */
  onError?: (error: Error) => void
}

/** What `onLockWait` is told: a wait for one of the store's locks has passed a second. */
export interface LockWait {
  /** The lock file waited for. */
  path: string
  /** `refresh`: another process refreshes, logs in or logs out; `write`: it writes the session file. */
  lock: 'refresh' | 'write'
  /** The holder's pid, as its lock file says. */
  pid: number | undefined
  /** The holder's host name, as its lock file says. */
  host: string | undefined
  /** The longest this wait lasts: then the lock is taken for stale. */
  maxWaitMs: number
}

export interface ResolvedFileStoreOptions {
  /** Absolute path of the session file. */
  path: string
  directory: string
  /** The file's name, which sealed sessions are bound to. */
  name: string
  encryptionKey: Uint8Array | undefined
  lockLeaseMs: number
  onLockWait: ((wait: LockWait) => void) | undefined
  onError: (error: Error) => void
}

const OPTIONS = {
  name: true,
  path: true,
  encryptionKey: true,
  lockLeaseMs: true,
  onLockWait: true,
  onError: true,
} satisfies Record<keyof FileStoreOptions, true>

const DEFAULT_LEASE_MS = 60_000
// A lease must leave room for a session call and the file operations around it.
const MIN_LEASE_MS = 100
const NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$/

/** Check `fileStore` options; every error names the option. */
export function resolveFileStoreOptions(options: FileStoreOptions): ResolvedFileStoreOptions {
  if (typeof options !== 'object' || options === null) {
    throw new OptionError('options', `expected an object, got ${describe(options)}`)
  }
  rejectUnknownOptions(options, OPTIONS)
  const { name, path, encryptionKey, lockLeaseMs, onLockWait, onError } = options
  if (name !== undefined && (typeof name !== 'string' || !NAME.test(name))) {
    throw new OptionError(
      'name',
      `expected up to 100 letters, digits, ".", "_" or "-" (not starting with "."), got ${describe(name)}`,
    )
  }
  if (path !== undefined && (typeof path !== 'string' || path === '' || path.includes('\0'))) {
    throw new OptionError('path', `expected a file path, got ${describe(path)}`)
  }
  if (path !== undefined && name !== undefined) {
    throw new OptionError('path', 'pass either `path` or `name`, not both')
  }
  const sealWith = parseEncryptionKey(encryptionKey)
  if (lockLeaseMs !== undefined && parseDuration(lockLeaseMs, 'lockLeaseMs', true) < MIN_LEASE_MS) {
    throw new OptionError('lockLeaseMs', `expected at least ${MIN_LEASE_MS} ms, got ${lockLeaseMs}`)
  }
  if (onLockWait !== undefined && typeof onLockWait !== 'function') {
    throw new OptionError('onLockWait', `expected a function, got ${describe(onLockWait)}`)
  }
  if (onError !== undefined && typeof onError !== 'function') {
    throw new OptionError('onError', `expected a function, got ${describe(onError, false)}`)
  }
  const file = path === undefined ? join(defaultDirectory(), `${name ?? 'default'}.json`) : resolve(path)
  if (!isAbsolute(file)) throw new OptionError('path', 'could not be made absolute')
  return {
    path: file,
    directory: dirname(file),
    name: basename(file),
    encryptionKey: sealWith,
    lockLeaseMs: Math.ceil(lockLeaseMs ?? DEFAULT_LEASE_MS),
    onLockWait,
    onError: onError ?? (() => {}),
  }
}
