import { randomUUID } from 'node:crypto'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { defaultDirectory } from '../stores/file/location.js'
import { CliError, EXIT } from './exit.js'

/** What the command remembers of a profile besides its session: where it logged in, and as whom. */
export interface Profile {
  baseURL: string
  email?: string
}

const NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$/

/** Check a `--profile` value: it names files. */
export function checkProfileName(name: string): string {
  if (!NAME.test(name)) {
    throw new CliError(
      `--profile: expected letters, digits, ".", "_" or "-" (not starting with "."), got ${JSON.stringify(name)}`,
      EXIT.usage,
    )
  }
  return name
}

/** `<state folder>/<profile>.profile.json`, next to the session file `<profile>.json`. */
export function profilePath(name: string): string {
  return join(defaultDirectory(), `${name}.profile.json`)
}

export async function readProfile(name: string): Promise<Profile | undefined> {
  let text: string
  try {
    text = await readFile(profilePath(name), 'utf8')
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return undefined
    throw error
  }
  try {
    const value = JSON.parse(text) as Partial<Profile> | null
    if (typeof value?.baseURL !== 'string') throw new Error('no baseURL')
    return { baseURL: value.baseURL, ...(typeof value.email === 'string' ? { email: value.email } : {}) }
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
  await mkdir(defaultDirectory(), { recursive: true, mode: 0o700 })
  const temporary = `${path}.${randomUUID()}.tmp`
  await writeFile(temporary, `${JSON.stringify(profile, null, 2)}\n`, { mode: 0o600, flag: 'wx' })
  await rename(temporary, path)
}
