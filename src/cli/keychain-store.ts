import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { issuerBinding } from '../core/issuer.js'
import type {
  ChangeReason,
  LockGrant,
  LockOptions,
  SessionStore,
  StoreChange,
  StoreSnapshot,
} from '../core/store.js'
import { StoreError } from '../errors/store-error.js'
import { createFileLock, type HeldLock, type LockHolder } from '../stores/file/file-lock.js'
import type { LockWait } from '../stores/file/options.js'
import { checkFolder, isCode } from '../stores/file/private-files.js'
import { createCodec } from '../stores/record-codec.js'

/** The part of `@napi-rs/keyring` used here (an optional dependency, loaded only when the keychain is). */
interface KeyringEntry {
  getPassword(): Promise<string | null>
  setPassword(password: string): Promise<void>
  deleteCredential(): Promise<boolean>
}
interface KeyringModule {
  AsyncEntry: new (
    service: string,
    account: string,
    options?: { linux?: { store?: 'secret-service' | 'keyutils' } },
  ) => KeyringEntry
}

/** The keychain entry's service; its account is `<state folder>/<profile>`. */
export const KEYCHAIN_SERVICE = 'session-fetch'
const FORMAT = 'session-fetch.keychain.v1'
const REASONS: ReadonlySet<string> = new Set<ChangeReason>(['login', 'refresh', 'logout', 'expired'])
const LOCK_LEASE_MS = 60_000 // as the file store's default: processes of both kinds share the lock
const WRITE_LEASE_MS = 10_000

/** The OS credential store could not be used: why, in one line (never a secret: the platform's own words). */
export class KeychainUnavailable extends Error {
  override name = 'KeychainUnavailable' as const
}

/** What is kept in the entry: the session record (the codec's JSON) with the store's version around it. */
interface Entry {
  format: typeof FORMAT
  version: number
  reason?: string
  writer?: string
  data: string
}

export interface KeychainStoreOptions {
  /** The profile, which names the entry and the lock files. */
  name: string
  /** The state folder: the lock files live there, and it is part of the entry's account. */
  directory: string
  onLockWait?: (wait: LockWait) => void
  onError?: (error: Error) => void
  /** Seal the record inside the entry with this 32-byte key (`--encryption-key-env`), as the file store does. */
  encryptionKey?: Uint8Array
  /** Check that the keychain takes a write too (at login: before anything is sent). */
  writable?: boolean
}

export interface KeychainStore extends SessionStore {
  /** Where the session is: the service and account of the entry, for `status`. */
  readonly location: string
  read(): Promise<StoreSnapshot>
  write(change: StoreChange, expectedVersion: number): Promise<StoreSnapshot | undefined>
  lock<T>(fn: (grant?: LockGrant) => Promise<T>, options: LockOptions): Promise<T>
  close(): Promise<void>
}

let loading: Promise<KeyringModule> | undefined

/** `@napi-rs/keyring`, imported on first use: a platform without its prebuilt binary still runs with the file. */
function loadKeyring(): Promise<KeyringModule> {
  loading ??= import('@napi-rs/keyring').then(
    (module) => ((module as { default?: KeyringModule }).default ?? module) as KeyringModule,
    (error: unknown) => {
      throw new KeychainUnavailable(
        `the @napi-rs/keyring module could not be loaded for ${process.platform}-${process.arch}: ${oneLine(error)}`,
      )
    },
  )
  return loading
}

function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error)
  const line = text.replace(/\s*\n\s*/g, ' ').trim()
  return line.length > 200 ? `${line.slice(0, 200)}…` : line
}

/**
 * The entry of `name`, checked to be usable: the platform's credential store answers a read, and with `writable`
 * takes a write (a probe entry of its own, written and deleted: a locked keyring is asked to unlock now, or
 * refuses, before a login is sent rather than after). On Linux only the Secret Service (D-Bus) is used, never the
 * kernel keyring, as gh does. Rejects with KeychainUnavailable.
 */
async function openEntry(name: string, directory: string, writable: boolean): Promise<KeyringEntry> {
  const { AsyncEntry } = await loadKeyring()
  const open = (account: string) =>
    new AsyncEntry(KEYCHAIN_SERVICE, account, { linux: { store: 'secret-service' } })
  let entry: KeyringEntry
  try {
    entry = open(join(directory, name))
    await entry.getPassword()
    if (writable) {
      const probe = open(`${join(directory, name)} (probe)`)
      await probe.setPassword('probe')
      await probe.deleteCredential()
    }
  } catch (error) {
    throw new KeychainUnavailable(oneLine(error))
  }
  return entry
}

/**
 * A {@link SessionStore} whose session lives in the OS credential store (macOS Keychain, Windows Credential
 * Manager, a Secret Service on Linux): one entry holding the record and its version. The refresh lock stays a
 * file lock in the state folder (`<profile>.json.lock`, the file store's), and every write is a compare-and-set
 * under a second file lock (`<profile>.json.write.lock`): the entry's version is read, compared and written while
 * it is held. Versions are the time of the write in ms (or one more than the last), so an entry deleted and made
 * again is newer than the one deleted. Rejects with KeychainUnavailable when the keychain cannot be used.
 */
export async function keychainStore(options: KeychainStoreOptions): Promise<KeychainStore> {
  const { name, directory } = options
  const entry = await openEntry(name, directory, options.writable === true)
  const account = join(directory, name)
  const where = `the keychain entry ${JSON.stringify(account)} (service ${JSON.stringify(KEYCHAIN_SERVICE)})`
  const codec = createCodec(account, options.encryptionKey, { where, factory: 'the keychain store' })
  const base = join(directory, `${name}.json`)
  const notice = (lock: 'refresh' | 'write', path: string, maxWaitMs: number) => (holder: LockHolder) => {
    try {
      options.onLockWait?.({ path, lock, ...holder, maxWaitMs })
    } catch {
      // a throwing listener does not stop the wait
    }
  }
  const refreshLock = createFileLock(`${base}.lock`, {
    maxWaitMs: LOCK_LEASE_MS,
    onWait: notice('refresh', `${base}.lock`, LOCK_LEASE_MS),
  })
  const writeLock = createFileLock(`${base}.write.lock`, {
    maxWaitMs: WRITE_LEASE_MS,
    onWait: notice('write', `${base}.write.lock`, WRITE_LEASE_MS),
  })
  let highest = 0
  let closed = false
  let folder: Promise<void> | undefined

  /** The state folder, made 0700 and checked (the lock files' rules). */
  function prepare(): Promise<void> {
    folder ??= (async () => {
      try {
        await mkdir(directory, { recursive: true, mode: 0o700 })
      } catch (error) {
        if (!isCode(error, 'EROFS')) throw error
      }
      if (!(await checkFolder(directory, `the lock files of ${where}`))) {
        throw new StoreError(`The folder ${JSON.stringify(directory)} of the lock files is gone`)
      }
    })().catch((error: unknown) => {
      folder = undefined
      throw error
    })
    return folder
  }

  async function readEntry(): Promise<Entry | undefined> {
    let text: string | null
    try {
      text = await entry.getPassword()
    } catch (error) {
      throw new StoreError(`Could not read ${where}: ${oneLine(error)}`)
    }
    if (text === null) return undefined
    let value: Partial<Entry> | null
    try {
      value = JSON.parse(text) as Partial<Entry> | null
    } catch {
      value = null
    }
    if (
      value?.format !== FORMAT ||
      typeof value.version !== 'number' ||
      !Number.isSafeInteger(value.version) ||
      typeof value.data !== 'string'
    ) {
      throw new StoreError(`${where} is not a session-fetch session: log out or log in again to replace it`)
    }
    return value as Entry
  }

  async function read(): Promise<StoreSnapshot> {
    if (closed) throw closedError()
    const stored = await readEntry()
    if (!stored) return Object.freeze({ version: 0, record: undefined })
    highest = Math.max(highest, stored.version)
    return Object.freeze({
      version: stored.version,
      record: await codec.decode(stored.data, stored.version, 0),
      reason:
        stored.reason !== undefined && REASONS.has(stored.reason)
          ? (stored.reason as ChangeReason)
          : undefined,
      writer: typeof stored.writer === 'string' ? stored.writer : undefined,
    })
  }

  async function write(change: StoreChange, expectedVersion: number): Promise<StoreSnapshot | undefined> {
    if (closed) throw closedError()
    if (!Number.isSafeInteger(expectedVersion) || expectedVersion < 0 || !REASONS.has(change.reason)) {
      throw new StoreError('write() needs a version count and a change reason')
    }
    await prepare()
    const held = await writeLock.acquire(WRITE_LEASE_MS).catch((error: unknown) => {
      throw new StoreError(`Could not lock ${where} for writing`, { cause: error })
    })
    try {
      const current = (await readEntry())?.version ?? 0
      if (current !== expectedVersion) return undefined
      highest = Math.max(expectedVersion + 1, Date.now(), highest + 1)
      const version = highest
      // A holder that was stopped past its lease may have been taken over: it writes nothing then.
      if (held.expired()) return undefined
      try {
        if (change.record) {
          const stored: Entry = {
            format: FORMAT,
            version,
            reason: change.reason,
            writer: change.writer,
            data: await codec.encode(change.record, version, 0),
          }
          await entry.setPassword(JSON.stringify(stored))
        } else {
          await entry.deleteCredential()
        }
      } catch (error) {
        throw new StoreError(`Could not write ${where}: ${oneLine(error)}`)
      }
      // A cleared session is no entry at all: version 0 from then on, as for a profile never logged in.
      return Object.freeze(
        change.record
          ? { version, record: change.record, reason: change.reason, writer: change.writer }
          : { version: 0, record: undefined, reason: change.reason, writer: change.writer },
      )
    } finally {
      await held.release().catch((error: unknown) => report(error))
    }
  }

  async function lock<T>(fn: (grant?: LockGrant) => Promise<T>, lockOptions: LockOptions): Promise<T> {
    if (closed) throw closedError()
    const asked = Math.ceil(lockOptions?.leaseMs)
    if (!Number.isFinite(asked) || asked <= 0) throw new StoreError('lock() needs a leaseMs > 0')
    await prepare()
    let held: HeldLock
    try {
      held = await refreshLock.acquire(Math.min(asked, LOCK_LEASE_MS), lockOptions.signal)
    } catch (error) {
      if (lockOptions.signal?.aborted && error === lockOptions.signal.reason) throw error
      throw new StoreError(`Could not take the refresh lock of ${where}`, { cause: error })
    }
    try {
      return await fn({ until: held.until })
    } finally {
      await held.release().catch((error: unknown) => report(error))
    }
  }

  function report(error: unknown): void {
    try {
      options.onError?.(error instanceof Error ? error : new StoreError(String(error)))
    } catch {
      // a throwing onError must not break the store
    }
  }

  function closedError(): StoreError {
    return new StoreError(`The keychain store of ${where} is closed`)
  }

  return {
    location: `${process.platform === 'linux' ? 'Secret Service' : 'OS keychain'}, service ${JSON.stringify(KEYCHAIN_SERVICE)}, account ${JSON.stringify(account)}`,
    read,
    write,
    lock,
    bind: issuerBinding(),
    async close() {
      closed = true
      refreshLock.wake()
      writeLock.wake()
    },
  }
}
