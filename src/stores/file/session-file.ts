import { randomUUID } from 'node:crypto'
import { constants } from 'node:fs'
import { mkdir, open, rename, unlink } from 'node:fs/promises'
import { StoreError } from '../../errors/store-error.js'
import { checkFolder, type FileKind, readOwn } from './private-files.js'

/** What the session file holds: the version it was written at, why and by whom, and the encoded record. */
export interface FileContent {
  version: number
  reason: string | undefined
  writer: string | undefined
  /** The codec's text ('' when there is no session). */
  data: string
}

const FORMAT = 1
const PRIVATE_FILE = 0o600
const PRIVATE_DIRECTORY = 0o700
const SESSION_FILE: FileKind = { name: 'session file', secret: true, remedy: 'remove it and log in again' }
const isWindows = process.platform === 'win32'

/**
 * The session file: read whole or not at all (a missing file is version 0), written atomically (a temporary
 * file in the same folder, fsync, rename over the old one, fsync of the folder), so a reader sees the old file
 * or the new one, never half of either. Only a regular file of this user that no other user can read or write,
 * in a folder of this user's that nobody else can write to, is used.
 */
export function createSessionFile(path: string, directory: string) {
  let ready: Promise<void> | undefined
  const subject = `the session file ${JSON.stringify(path)}`

  /** Create the folder (0700) the first time, and check that it, and what is above it, is this user's. */
  function prepare(): Promise<void> {
    ready ??= (async () => {
      await mkdir(directory, { recursive: true, mode: PRIVATE_DIRECTORY })
      if (!(await checkFolder(directory, subject))) throw new StoreError(`${subject} has no folder`)
    })().catch((error: unknown) => {
      ready = undefined
      throw error instanceof StoreError ? error : failure(error, 'create the folder of')
    })
    return ready
  }

  function failure(error: unknown, action: string): StoreError {
    return new StoreError(`Could not ${action} the session file ${JSON.stringify(path)}`, { cause: error })
  }

  function parse(text: string): FileContent {
    const corrupt = (why: string) =>
      new StoreError(
        `The session file ${JSON.stringify(path)} is ${why}: delete it (and log in again) to start over`,
      )
    if (text.trim() === '') throw corrupt('empty (truncated?)')
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      throw corrupt('not valid JSON (truncated or corrupt)')
    }
    const content = value as Partial<FileContent & { format: number }> | null
    if (typeof content !== 'object' || content === null || content.format !== FORMAT) {
      throw corrupt('not a session-fetch session file')
    }
    const { version, reason, writer, data } = content
    if (
      typeof version !== 'number' ||
      !Number.isSafeInteger(version) ||
      version < 0 ||
      typeof data !== 'string' ||
      (reason !== undefined && typeof reason !== 'string') ||
      (writer !== undefined && typeof writer !== 'string')
    ) {
      throw corrupt('damaged (its version, reason, writer or data is not what was written)')
    }
    return { version, reason, writer, data }
  }

  async function read(): Promise<FileContent> {
    await prepare()
    const file = await readOwn(path, SESSION_FILE)
    if (!file) return { version: 0, reason: undefined, writer: undefined, data: '' }
    return parse(file.text)
  }

  async function write(content: FileContent): Promise<void> {
    await prepare()
    const temporary = `${path}.${randomUUID()}.tmp`
    try {
      const handle = await open(temporary, 'wx', PRIVATE_FILE)
      try {
        await handle.writeFile(JSON.stringify({ format: FORMAT, ...content }))
        await handle.sync()
      } finally {
        await handle.close()
      }
      await rename(temporary, path)
    } catch (error) {
      await unlink(temporary).catch(() => {})
      throw failure(error, 'write')
    }
    // The rename itself survives a power cut only once the folder is flushed (POSIX; not possible on Windows).
    if (!isWindows) {
      const folder = await open(directory, constants.O_RDONLY | (constants.O_DIRECTORY ?? 0)).catch(
        () => undefined,
      )
      await folder
        ?.sync()
        .catch(() => {})
        .finally(() => folder.close())
    }
  }

  return { read, write, prepare }
}
