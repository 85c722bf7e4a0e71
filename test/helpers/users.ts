import { chmod, chown, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { build } from 'esbuild'
import { afterAll } from 'vitest'

/** Someone else on the machine: plants folders and files for the others to use. */
export const ATTACKER_UID = 4242
/** Another user on the machine, running the command (as root, the tests run it as this uid). */
export const VICTIM_UID = 4243

/**
 * Whether this process can give files to other users and run processes as them: root, as in CI. Tests about
 * other users' files check it and do what a normal user can do when it is false (see each test).
 */
export const isRoot = process.getuid?.() === 0

/** Give `path` to `uid` (and the group of the same number). */
export async function giveTo(path: string, uid: number): Promise<void> {
  await chown(path, uid, uid)
}

/** The words that run a command as `uid` (util-linux setpriv: no group of the caller's is kept). */
export function asUser(uid: number): string[] {
  return ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--']
}

let bundled: Promise<string> | undefined
const bundleFolders: string[] = []

/**
 * The command (`entry`) bundled into one file any user can read and run, for a process started as another uid:
 * the repository itself may sit where only its owner can enter (a fresh clone in a 0700 temporary folder), and
 * `tsx` would not resolve from there. Built once per test file, removed after it.
 */
export function commandForOtherUsers(entry: string): Promise<string> {
  bundled ??= (async () => {
    const folder = await mkdtemp(join(tmpdir(), 'session-fetch-command-'))
    bundleFolders.push(folder)
    await chmod(folder, 0o755)
    const outfile = join(folder, 'main.mjs')
    await build({
      entryPoints: [entry],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile,
      // CommonJS dependencies bundled into an ES module still call require().
      banner: {
        js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
      },
      logLevel: 'silent',
    })
    await chmod(outfile, 0o644)
    return outfile
  })()
  return bundled
}

afterAll(async () => {
  await Promise.all(bundleFolders.map((folder) => rm(folder, { recursive: true, force: true })))
})
