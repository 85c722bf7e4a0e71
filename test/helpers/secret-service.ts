import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const READY_WITHIN_MS = 30_000

/** A private D-Bus session bus with gnome-keyring's Secret Service on it, unlocked: a real Linux keychain. */
export interface SecretService {
  /** What a process needs in its environment to use it. */
  env: { DBUS_SESSION_BUS_ADDRESS: string }
  /** Lock the default collection (as logging out of the desktop does); unlocking it would need a prompt. */
  lock(): Promise<void>
  stop(): Promise<void>
}

// Only the daemon started here can own org.freedesktop.secrets: this bus activates no service (a call to the
// name would otherwise start a second, locked daemon that races ours).
const busConfig = (
  folder: string,
) => `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=${folder}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`

// Run by dbus-run-session: the password is stdin's first line, handed to the daemon on its stdin; READY once the
// default collection answers unlocked; the rest of stdin is waited for, and its end stops the daemon (then
// dbus-run-session ends the bus).
const SESSION = `
IFS= read -r password
printf '%s' "$password" | gnome-keyring-daemon --unlock --components=secrets --foreground >/dev/null 2>&1 &
daemon=$!
ready() {
  dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \\
    org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q 'boolean true' &&
  dbus-send --session --print-reply --dest=org.freedesktop.secrets /org/freedesktop/secrets/aliases/default \\
    org.freedesktop.DBus.Properties.Get string:org.freedesktop.Secret.Collection string:Locked 2>/dev/null |
    grep -q 'boolean false'
}
until ready; do
  if ! kill -0 "$daemon" 2>/dev/null; then echo "FAILED: gnome-keyring-daemon exited"; exit 1; fi
  sleep 0.1
done
echo "READY $DBUS_SESSION_BUS_ADDRESS"
cat >/dev/null
kill "$daemon"
wait "$daemon"
`

/**
 * Start a D-Bus session (dbus-run-session) and gnome-keyring-daemon on it, unlocked with a random password given
 * on its stdin, its keyrings in a temporary HOME. Rejects, naming what is missing, when dbus-run-session,
 * dbus-send or gnome-keyring-daemon is not installed, or when the keyring does not answer unlocked in time.
 */
export async function startSecretService(): Promise<SecretService> {
  const missing: string[] = []
  for (const command of ['dbus-run-session', 'dbus-send', 'gnome-keyring-daemon']) {
    await promisify(execFile)('sh', ['-c', `command -v ${command}`]).catch(() => missing.push(command))
  }
  if (missing.length > 0) {
    throw new Error(
      `The keychain tests need a real Secret Service: ${missing.join(', ')} not installed (Debian: apt-get install --no-install-recommends gnome-keyring dbus-daemon dbus-bin; .ci/run installs them)`,
    )
  }
  const home = await mkdtemp(join(tmpdir(), 'session-fetch-keyring-'))
  const runtime = join(home, 'run')
  await mkdir(runtime, { mode: 0o700 })
  const config = join(home, 'bus.conf')
  await writeFile(config, busConfig(home))
  const child: ChildProcessWithoutNullStreams = spawn(
    'dbus-run-session',
    [`--config-file=${config}`, '--', 'sh', '-c', SESSION],
    {
      env: {
        ...process.env,
        HOME: home,
        XDG_DATA_HOME: join(home, 'data'),
        XDG_CONFIG_HOME: join(home, 'config'),
        XDG_RUNTIME_DIR: runtime,
        DBUS_SESSION_BUS_ADDRESS: undefined,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  )
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()))
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk))
  child.stdin.write(`${randomBytes(18).toString('base64url')}\n`)

  const stop = async () => {
    child.stdin.end()
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(timer)
    await rm(home, { recursive: true, force: true })
  }

  let stdout = ''
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(new Error(`gnome-keyring did not answer unlocked within ${READY_WITHIN_MS} ms: ${stderr}`)),
      READY_WITHIN_MS,
    )
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk
      const ready = /^READY (\S+)$/m.exec(stdout)
      const failed = /^FAILED: (.*)$/m.exec(stdout)
      if (ready?.[1]) resolve(ready[1])
      else if (failed) reject(new Error(`${failed[1]}: ${stderr}`))
      else return
      clearTimeout(timer)
    })
    child.once('close', (code) => {
      clearTimeout(timer)
      reject(new Error(`dbus-run-session exited (${code}) before the keyring was ready: ${stderr}`))
    })
  }).catch(async (error: unknown) => {
    await stop()
    throw error
  })
  const env = { DBUS_SESSION_BUS_ADDRESS: address }
  const lock = async () => {
    await promisify(execFile)(
      'dbus-send',
      [
        '--session',
        '--print-reply',
        '--dest=org.freedesktop.secrets',
        '/org/freedesktop/secrets',
        'org.freedesktop.Secret.Service.Lock',
        'array:objpath:/org/freedesktop/secrets/aliases/default',
      ],
      { env: { ...process.env, ...env } },
    )
  }
  return { env, lock, stop }
}
