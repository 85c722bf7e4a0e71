import { constants, type Stats } from 'node:fs'
import { type FileHandle, lstat, open, realpath, stat, unlink } from 'node:fs/promises'
import { dirname } from 'node:path'
import { StoreError } from '../../errors/store-error.js'

// Modes and owners mean nothing on Windows: the ACLs of %LOCALAPPDATA% do this there.
const isWindows = process.platform === 'win32'

// Never follow a link planted at the path, never wait on a FIFO's writer (or a device): the type is checked on
// the descriptor that was opened, so nothing can be swapped in between.
const NO_SURPRISES = (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0)
/** Flags to open an existing file of ours for reading. */
export const READ_FLAGS = constants.O_RDONLY | NO_SURPRISES
/** Flags to open an existing file of ours (a reserved temporary file) for writing, without creating one. */
export const WRITE_FLAGS = constants.O_WRONLY | NO_SURPRISES
// Larger than any session, profile or lock record: a bigger file is not one of ours.
const MAX_BYTES = 1 << 20

/** A kind of file the store or the command reads, for messages: what it is, and what to do to start over. */
export interface FileKind {
  /** e.g. 'session file' */
  name: string
  /** Its content is a secret: other users may not even read it. */
  secret: boolean
  /** What to do with a file that is refused, e.g. 'remove it and log in again'. */
  remedy: string
}

export function isCode(error: unknown, code: string): boolean {
  return (error as { code?: unknown } | null)?.code === code
}

/** Remove `path` if it is there; false when it could not be (a read-only file system). */
export async function remove(path: string): Promise<boolean> {
  try {
    await unlink(path)
    return true
  } catch (error) {
    return isCode(error, 'ENOENT')
  }
}

/** This process's uid, or undefined where owners are not checked. */
function ownUid(): number | undefined {
  return isWindows ? undefined : process.getuid?.()
}

function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, '0')}`
}

function describeType(stats: Stats): string {
  if (stats.isFIFO()) return 'a FIFO (named pipe)'
  if (stats.isDirectory()) return 'a folder'
  if (stats.isSymbolicLink()) return 'a symbolic link'
  if (stats.isSocket()) return 'a socket'
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device'
  return 'not a regular file'
}

/**
 * Refuse a file that is not a regular file of this user that only this user can write (and, for a secret, read):
 * whoever else can write it could point the command at their server or feed the store a session of theirs.
 */
export function checkFile(path: string, kind: FileKind, stats: Stats): void {
  const refuse = (what: string, remedy = kind.remedy) =>
    new StoreError(`The ${kind.name} ${JSON.stringify(path)} ${what}: refusing to use it; ${remedy}`)
  if (!stats.isFile()) throw refuse(`is ${describeType(stats)}, not a file`)
  if (stats.size > MAX_BYTES) throw refuse(`is larger than a ${kind.name} can be (${stats.size} bytes)`)
  const uid = ownUid()
  if (uid === undefined) return
  if (stats.uid !== uid) {
    throw refuse(
      `belongs to another user (uid ${stats.uid}; you are uid ${uid})`,
      `${kind.remedy} (someone else may have put it there), or chown it to yourself if it is yours`,
    )
  }
  const open = kind.secret ? 0o066 : 0o022
  if ((stats.mode & open) !== 0) {
    throw refuse(
      `can be ${kind.secret ? 'read or written' : 'written'} by other users (mode ${octal(stats.mode)})`,
      'chmod 600 it',
    )
  }
}

/**
 * Open `path` for reading and check what was opened (see {@link checkFile}); undefined when there is nothing
 * there. A link is refused rather than followed, a FIFO or a socket rather than waited on.
 */
export async function openOwn(
  path: string,
  kind: FileKind,
): Promise<{ handle: FileHandle; stats: Stats } | undefined> {
  let handle: FileHandle
  try {
    handle = await open(path, READ_FLAGS)
  } catch (error) {
    if (isCode(error, 'ENOENT')) return undefined
    const what = isCode(error, 'ELOOP')
      ? 'is a symbolic link, not a file'
      : isCode(error, 'ENXIO')
        ? 'is a socket, not a file'
        : isCode(error, 'EACCES')
          ? 'cannot be opened by you (it belongs to another user?)'
          : undefined
    if (what) {
      throw new StoreError(
        `The ${kind.name} ${JSON.stringify(path)} ${what}: refusing to use it; ${kind.remedy}`,
      )
    }
    throw new StoreError(`Could not open the ${kind.name} ${JSON.stringify(path)}`, { cause: error })
  }
  try {
    const stats = await handle.stat()
    checkFile(path, kind, stats)
    return { handle, stats }
  } catch (error) {
    await handle.close().catch(() => {})
    throw error
  }
}

/** Write all of `bytes` at the start of the file (a write that fills the disk may take only part of them). */
export async function writeAll(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.length; ) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, done)
    if (bytesWritten === 0) throw new StoreError('A write made no progress')
    done += bytesWritten
  }
}

/** The text of `path` (see {@link openOwn}) and what it is, or undefined when there is nothing there. */
export async function readOwn(
  path: string,
  kind: FileKind,
): Promise<{ text: string; stats: Stats } | undefined> {
  const opened = await openOwn(path, kind)
  if (!opened) return undefined
  try {
    return { text: await opened.handle.readFile('utf8'), stats: opened.stats }
  } catch (error) {
    throw new StoreError(`Could not read the ${kind.name} ${JSON.stringify(path)}`, { cause: error })
  } finally {
    await opened.handle.close().catch(() => {})
  }
}

/**
 * Check the folder the files of `subject` live in: it is this user's, and nobody else can write to it (sticky bit
 * or not: in a folder others can write to, they can plant a profile or a link before the first run). Its parents
 * up to `/` belong to this user or root, and those every user can write to have the sticky bit (like /tmp); a
 * link on the way belongs to this user or root. Otherwise someone else could put a folder of theirs in its place.
 * False when the folder does not exist.
 */
export async function checkFolder(directory: string, subject: string): Promise<boolean> {
  const uid = ownUid()
  let stats: Stats
  try {
    stats = await stat(directory)
  } catch (error) {
    if (isCode(error, 'ENOENT')) return false
    throw new StoreError(`Could not look at the folder ${JSON.stringify(directory)} of ${subject}`, {
      cause: error,
    })
  }
  const refuse = (what: string, remedy: string) =>
    new StoreError(
      `The folder ${JSON.stringify(directory)} of ${subject} ${what}: refusing to use it; ${remedy}`,
    )
  if (!stats.isDirectory()) throw refuse('is not a folder', 'remove it')
  if (uid === undefined) return true
  if (stats.uid !== uid) {
    throw refuse(
      `belongs to another user (uid ${stats.uid}; you are uid ${uid})`,
      'remove it (someone else may have made it for you to use), or chown it to yourself and chmod 700 it',
    )
  }
  if ((stats.mode & 0o022) !== 0) {
    throw refuse(`can be written by other users (mode ${octal(stats.mode)})`, 'chmod 700 it')
  }
  const checked = new Set<string>()
  const parents = async (from: string) => {
    for (let parent = from; !checked.has(parent); parent = dirname(parent)) {
      checked.add(parent)
      const above = await lstat(parent)
      const where = `is inside ${JSON.stringify(parent)}, which`
      if (above.uid !== uid && above.uid !== 0) {
        throw refuse(
          `${where} belongs to another user (uid ${above.uid}), who could put a folder of theirs in its place`,
          'use a folder whose parents are yours or root’s',
        )
      }
      // Group-writable is let through above the folder: with a group of one's own (the usual on Linux, where a
      // umask of 002 makes ~/.local 0775) it is harmless, and the folder and every file are checked themselves.
      if (!above.isSymbolicLink() && (above.mode & 0o002) !== 0 && (above.mode & 0o1000) === 0) {
        throw refuse(
          `${where} every user can write to without the sticky bit (mode ${octal(above.mode)}), so they could put a folder of theirs in its place`,
          `chmod o-w ${JSON.stringify(parent)}, or use another folder`,
        )
      }
    }
  }
  await parents(directory) // the path as given: a link on the way is judged by its owner…
  await parents(await realpath(directory)) // …and the folders it leads through by theirs
  return true
}
