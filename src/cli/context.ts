import { hostname } from 'node:os'
import type { Instrumentation } from '../core/options.js'
import { createSessionFetch } from '../create-session-fetch.js'
import { type FileStore, fileStore } from '../stores/file/file-store.js'
import { defaultDirectory } from '../stores/file/location.js'
import type { LockWait } from '../stores/file/options.js'
import type { Invocation } from './commands.js'
import { formatDuration } from './duration.js'
import { keyFromEnv } from './encryption-key.js'
import { CliError, EXIT, LOGIN_HINT } from './exit.js'
import type { Interrupts } from './interrupts.js'
import { type KeychainStore, KeychainUnavailable, keychainStore } from './keychain-store.js'
import { checkProfileName, type Profile, readProfile, type StoreKind } from './profile.js'

/** Where the command reads and writes: the real process's streams and environment by default. */
export interface Io {
  stdout: NodeJS.WriteStream
  stderr: NodeJS.WriteStream
  stdin: NodeJS.ReadStream
  env: NodeJS.ProcessEnv
}

/** The global options, read: the profile's name checked (it names files), and where it came from. */
export interface GlobalOptions {
  profile: string
  baseUrl: string | undefined
  /** The environment variable `--encryption-key-env` names. */
  keyEnv: string | undefined
}

export type Options<C extends Invocation['command']> = Extract<Invocation, { command: C }>['options']

/** The path of the Plantly Sessions resource below the base URL (the protocol's default, which the command uses). */
export const SESSIONS_PATH = '/auth/sessions'

/** Where a profile's session lives: a 0600 file, or the OS keychain. */
export type CliStore = FileStore | KeychainStore

/** Where a profile's session lives: where its login put it (the file for a profile from before `--store`). */
export function storeKind(profile: Profile | undefined): StoreKind {
  return profile?.store ?? 'file'
}

/** What every command uses: its streams, the profile, the session client. */
export interface Context {
  io: Io
  /** `text` in an ANSI colour when `stream` is a terminal and NO_COLOR is unset. */
  paint(stream: NodeJS.WriteStream, code: string, text: string): string
  /** A line for the person at the command (stderr), unless `-s` silenced it. */
  say(line: string): void
  /** Silence `say` (`-s`). */
  silence(): void
  globals(options: Options<Invocation['command']>): GlobalOptions
  /** The base URL and the profile a command works on; exit 3 when the profile never logged in. */
  target(options: GlobalOptions): Promise<{ baseURL: string; profile: Profile | undefined }>
  /** The base URL the command line or the environment asks for, and which of them asked. */
  requestedBaseURL(options: GlobalOptions): { url: string; from: string } | undefined
  /** The key the profile's session file is sealed with: `--encryption-key-env`'s, else the one its login named. */
  keyOf(options: GlobalOptions, profile: Profile | undefined): Uint8Array | undefined
  /**
   * The profile's session store, where its login put it (`kind`). A keychain that cannot be used now is an error
   * naming why: the session is there, and falling back to the file would lose it.
   */
  store(options: GlobalOptions, key: Uint8Array | undefined, kind: StoreKind): Promise<CliStore>
  /**
   * Where login keeps the session: `--store`, else the keychain where one can be used, else the file with a
   * one-line notice (said after the login). The keychain is tried before the password is asked for.
   */
  loginStore(
    options: GlobalOptions,
    key: Uint8Array | undefined,
    asked: string | undefined,
  ): Promise<{ store: CliStore; kind: StoreKind; notice?: string }>
  /** A client of the session in `store`, held for the signal handlers until closed. */
  client(
    baseURL: string,
    store: CliStore,
    transport?: typeof globalThis.fetch,
    instrumentation?: Instrumentation,
  ): Client
}

export interface Client {
  store: CliStore
  plantly: ReturnType<typeof createSessionFetch>
  /** The command makes this session call now; `saved` settles once its result is kept. */
  calling<T>(call: 'login' | 'logout', saved: Promise<T>): Promise<T>
  close(): Promise<void>
}

export function createContext(io: Io, interrupts: Interrupts | undefined): Context {
  const colour = (stream: NodeJS.WriteStream) => stream.isTTY === true && !io.env.NO_COLOR
  let quiet = false

  const context: Context = {
    io,
    paint: (stream, code, text) => (colour(stream) ? `\x1b[${code}m${text}\x1b[0m` : text),
    say(line) {
      if (!quiet) io.stderr.write(line)
    },
    silence() {
      quiet = true
    },

    globals(options) {
      const fromEnv = io.env.SESSION_FETCH_PROFILE
      const profile =
        options.profile !== undefined
          ? checkProfileName(options.profile)
          : fromEnv
            ? checkProfileName(fromEnv, 'SESSION_FETCH_PROFILE')
            : 'default'
      return { profile, baseUrl: options['base-url'], keyEnv: options['encryption-key-env'] }
    },

    /**
     * The base URL: --base-url, else SESSION_FETCH_BASE_URL, else the profile's. One that differs from the URL
     * the profile was logged in at is refused, naming both and where the other came from: the profile's session
     * belongs to the API it logged in to.
     */
    async target(options) {
      const profile = await readProfile(options.profile)
      const asked = context.requestedBaseURL(options)
      if (profile && asked && !sameURL(asked.url, profile.baseURL)) {
        throw new CliError(
          mismatch(options.profile, profile.baseURL, asked),
          EXIT.usage,
          `unset ${asked.from} to use the profile's, or keep each API in its own profile: session-fetch --profile NAME login`,
        )
      }
      const baseURL = asked?.url ?? profile?.baseURL
      if (!baseURL) {
        throw new CliError(
          `profile ${JSON.stringify(options.profile)} is not logged in`,
          EXIT.noSession,
          LOGIN_HINT,
        )
      }
      return { baseURL, profile }
    },

    requestedBaseURL(options) {
      if (options.baseUrl !== undefined) return { url: options.baseUrl, from: '--base-url' }
      const env = io.env.SESSION_FETCH_BASE_URL
      return env ? { url: env, from: 'SESSION_FETCH_BASE_URL' } : undefined
    },

    keyOf(options, profile) {
      if (options.keyEnv !== undefined) return keyFromEnv(options.keyEnv, io.env)
      const remembered = profile?.encryptionKeyEnv
      if (remembered === undefined) return undefined
      return keyFromEnv(
        remembered,
        io.env,
        `profile ${JSON.stringify(options.profile)} (sealed at its login)`,
      )
    },

    async store(options, key, kind) {
      const callbacks = {
        onLockWait: (wait: LockWait) => context.say(`session-fetch: ${describeWait(wait)}\n`),
        onError: (error: Error) => context.say(`session-fetch: ${error.message}\n`),
      }
      const sealed = key === undefined ? {} : { encryptionKey: key }
      if (kind === 'file') {
        return fileStore({ name: options.profile, ...sealed, ...callbacks })
      }
      try {
        return await keychainStore({
          name: options.profile,
          directory: defaultDirectory(),
          ...sealed,
          ...callbacks,
        })
      } catch (error) {
        if (!(error instanceof KeychainUnavailable)) throw error
        throw new CliError(
          `profile ${JSON.stringify(options.profile)} keeps its session in the OS keychain, which cannot be used: ${error.message}`,
          EXIT.failed,
          'unlock the keychain or start its service, or log in again with --store file',
        )
      }
    },

    async loginStore(options, key, asked) {
      if (asked !== undefined && asked !== 'keychain' && asked !== 'file') {
        throw new CliError(
          `--store: expected "keychain" or "file", got ${JSON.stringify(asked.slice(0, 100))}`,
          EXIT.usage,
          'see session-fetch login --help',
        )
      }
      if (asked === 'file') return { store: await context.store(options, key, 'file'), kind: 'file' }
      try {
        const store = await keychainStore({
          name: options.profile,
          directory: defaultDirectory(),
          ...(key === undefined ? {} : { encryptionKey: key }),
          writable: true,
        })
        return { store, kind: 'keychain' }
      } catch (error) {
        if (!(error instanceof KeychainUnavailable)) throw error
        if (asked === 'keychain') {
          throw new CliError(
            `login: --store keychain: the OS keychain cannot be used (${error.message})`,
            EXIT.failed,
            'use --store file to keep the session in a 0600 file',
          )
        }
        const store = (await context.store(options, key, 'file')) as FileStore
        const notice = `session-fetch: no OS keychain (${error.message}): the session is in the 0600 file ${store.path} (--store file chooses it without this notice)\n`
        return { store, kind: 'file', notice }
      }
    },

    client(baseURL, store, transport, instrumentation) {
      const plantly = createSessionFetch({
        baseURL,
        store,
        ...(transport ? { fetch: transport } : {}),
        ...(instrumentation ? { instrumentation } : {}),
      })
      const holding = { plantly, store }
      interrupts?.hold(holding)
      return {
        store,
        plantly,
        calling(call, saved) {
          interrupts?.hold({ ...holding, call, saved })
          return saved
        },
        // The client first: what it drains (a refresh landing) is written to the store; then a session a refresh
        // could not write yet is tried once more before the command exits.
        async close() {
          interrupts?.hold(undefined)
          await plantly.close()
          await store.close()
        },
      }
    },
  }
  return context
}

// What a wait for a lock is for, once it has lasted a second: a run that seems stuck says why.
function describeWait(wait: LockWait): string {
  const lock = wait.lock === 'refresh' ? 'the session lock' : 'the session file’s write lock'
  const holder =
    wait.pid === undefined
      ? 'a lock file that does not say who holds it'
      : `pid ${wait.pid}${wait.host && wait.host !== hostname() ? ` on ${wait.host}` : ''}`
  return `waiting for ${lock} held by ${holder} (${wait.path}; at most ${formatDuration(wait.maxWaitMs)})…`
}

export function mismatch(profile: string, remembered: string, asked: { url: string; from: string }): string {
  return `profile ${JSON.stringify(profile)} has the base URL ${shownURL(remembered)} (from its login), but ${asked.from} asks for ${shownURL(asked.url)}`
}

/** A URL as the command shows it: without credentials, query or fragment, which may carry secrets. */
export function shownURL(url: string): string {
  try {
    const parsed = new URL(url)
    return `${parsed.protocol}//${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}`
  } catch {
    return 'a URL that does not parse'
  }
}

export function sameURL(a: string, b: string): boolean {
  try {
    return new URL(a).href === new URL(b).href
  } catch {
    return a === b
  }
}

/** The URL of the Sessions resource below `baseURL`, as the client joins it. */
export function sessionsURL(baseURL: string): string {
  return `${baseURL.replace(/\/+$/, '')}${SESSIONS_PATH}`
}
