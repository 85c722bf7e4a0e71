import { chown } from 'node:fs/promises'

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
