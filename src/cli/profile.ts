import { randomUUID } from 'node:crypto'
import { mkdir, readdir, rename, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { StoreError } from '../errors/store-error.js'
import { defaultDirectory } from '../stores/file/location.js'
import { checkFolder, type FileKind, readOwn } from '../stores/file/private-files.js'
import { CliError, EXIT } from './exit.js'

/** What the command remembers of a profile besides its session: where it logged in, and as whom. */
export interface Profile {
  baseURL: string
  email?: string
  /** The name of the environment variable holding the session file's key (`--encryption-key-env`), never the key. */
  encryptionKeyEnv?: string
  /** Where its session lives (chosen at login): the OS keychain, or the 0600 file (also when not said). */
  store?: StoreKind
}

/** Where a profile's session lives: `--store` of login. */
export type StoreKind = 'keychain' | 'file'

const NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$/

/** Check a `--profile` (or `SESSION_FETCH_PROFILE`) value: it names files. */
export function checkProfileName(name: string, from = '--profile'): string {
  if (!NAME.test(name)) {
    throw new CliError(
      `${from}: expected letters, digits, ".", "_" or "-" (not starting with "."), got ${JSON.stringify(name.slice(0, 100))}`,
      EXIT.usage,
    )
  }
  return name
}

/** `<state folder>/<profile>.profile.json`, next to the session file `<profile>.json`. */
export function profilePath(name: string): string {
  return join(defaultDirectory(), `${name}.profile.json`)
}

// It says where the password goes: only a file of this user's that nobody else can write, in a folder of theirs
// (the session file's rules), is read.
const PROFILE_FILE: FileKind = { name: 'profile file', secret: false, remedy: 'remove it and log in again' }

export async function readProfile(name: string): Promise<Profile | undefined> {
  const path = profilePath(name)
  if (!(await checkFolder(defaultDirectory(), `the profile file ${JSON.stringify(path)}`))) return undefined
  const file = await readOwn(path, PROFILE_FILE)
  if (!file) return undefined
  const { text } = file
  try {
    const value = JSON.parse(text) as Partial<Profile> | null
    if (typeof value?.baseURL !== 'string') throw new Error('no baseURL')
    return {
      baseURL: value.baseURL,
      ...(typeof value.email === 'string' ? { email: value.email } : {}),
      ...(typeof value.encryptionKeyEnv === 'string' ? { encryptionKeyEnv: value.encryptionKeyEnv } : {}),
      ...(value.store === 'keychain' || value.store === 'file' ? { store: value.store } : {}),
    }
  } catch {
    throw new CliError(
      `The profile file ${JSON.stringify(profilePath(name))} is damaged`,
      EXIT.failed,
      'delete it and log in again',
    )
  }
}

/** Written atomically, 0600, in the 0700 state folder (no secret in it, but nobody else's business either). */
export async function writeProfile(name: string, profile: Profile): Promise<void> {
  const path = profilePath(name)
  const folder = defaultDirectory()
  await mkdir(folder, { recursive: true, mode: 0o700 })
  if (!(await checkFolder(folder, `the profile file ${JSON.stringify(path)}`))) {
    throw new StoreError(`The folder ${JSON.stringify(folder)} of the profile file is gone`)
  }
  const temporary = `${path}.${randomUUID()}.tmp`
  try {
    await writeFile(temporary, `${JSON.stringify(profile, null, 2)}\n`, { mode: 0o600, flag: 'wx' })
    await rename(temporary, path)
  } catch (error) {
    await unlink(temporary).catch(() => {})
    throw new StoreError(`Could not write the profile file ${JSON.stringify(path)}`, { cause: error })
  }
}

/** The names of the profiles in the state folder (those with a profile file), sorted. */
export async function profileNames(): Promise<string[]> {
  const folder = defaultDirectory()
  if (!(await checkFolder(folder, 'the profiles'))) return []
  let names: string[]
  try {
    names = await readdir(folder)
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return []
    throw new StoreError(`Could not list the folder ${JSON.stringify(folder)}`, { cause: error })
  }
  const suffix = '.profile.json'
  return names
    .filter((name) => name.endsWith(suffix) && NAME.test(name.slice(0, -suffix.length)))
    .map((name) => name.slice(0, -suffix.length))
    .sort()
}
