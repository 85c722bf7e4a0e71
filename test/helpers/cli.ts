import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { inject } from 'vitest'
import { fileStore } from '../../src/stores/file/index.js'
import type { MockServerOptions } from '../../src/testing/mock/index.js'
import { tempFolder } from './file-store.js'
import { DEMO_USER, mockServer } from './mock-server.js'
import { asUser } from './users.js'

// The `session-fetch` command as published (`dist/cli.js`, built once per test run by test/setup/build-cli.ts),
// run as a real process against the embedded mock, with its state folder in a temporary XDG_STATE_HOME. stdout
// and stderr are pipes here: no colours, raw bodies.
export const CLI = inject('cli')
const HANG_DETECTOR_MS = 150_000

export interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/** How to run it: as another user (`uid`, through setpriv: root only), watching stderr as it comes. */
export interface RunOptions {
  uid?: number
  onStderr?: (stderr: string) => void
}

export function cli(
  args: string[],
  env: Record<string, string | undefined>,
  input?: string,
  options: RunOptions = {},
): Promise<Run> {
  // Run as another uid: the build's folder is readable by every user, and the command needs no node_modules.
  const words = [...(options.uid === undefined ? [] : asUser(options.uid)), ...command(args)]
  return run(words, args, env, input, options)
}

/** The words that run the built command with `args`. */
export function command(args: string[]): string[] {
  return [process.execPath, CLI, ...args]
}

function run(
  words: string[],
  args: string[],
  env: Record<string, string | undefined>,
  input: string | undefined,
  options: RunOptions,
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const [file, ...rest] = words
    const child = spawn(file as string, rest, {
      env: {
        ...process.env,
        PLANTLY_PASSWORD: undefined,
        PLANTLY_EMAIL: undefined,
        SESSION_FETCH_BASE_URL: undefined,
        SESSION_FETCH_PROFILE: undefined,
        // No session bus: a login that tries the OS keychain never reaches the developer's (see cli-keychain*).
        DBUS_SESSION_BUS_ADDRESS: undefined,
        ...env,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk))
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk
      options.onStderr?.(stderr)
    })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`session-fetch ${args.join(' ')} did not finish`))
    }, HANG_DETECTOR_MS)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
    child.stdin.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') reject(error) // the command may exit before it reads its input
    })
    child.stdin.end(input ?? '')
  })
}

/** Run the command on a pseudo-terminal (util-linux `script`), typing each answer once its prompt is on screen. */
export function onTerminal(
  args: string[],
  env: Record<string, string | undefined>,
  answers: Record<string, string> = {},
): Promise<{ code: number | null; screen: string }> {
  const line = command(args)
    .map((word) => `'${word}'`)
    .join(' ')
  const child = spawn('script', ['-qec', line, '/dev/null'], {
    env: { ...process.env, PLANTLY_PASSWORD: undefined, PLANTLY_EMAIL: undefined, ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  let screen = ''
  const pending = new Map(Object.entries(answers))
  child.stdout.on('data', (chunk: Buffer) => {
    screen += chunk
    // Typed only once the prompt is up, as a person would (before, the terminal itself would echo it).
    for (const [prompt, answer] of pending) {
      if (screen.includes(prompt)) {
        pending.delete(prompt)
        child.stdin.write(answer)
      }
    }
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), HANG_DETECTOR_MS)
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer)
      child.stdin.end()
      resolve({ code, screen })
    }),
  )
}

/** A mock API (with `options`), a state folder of its own, and a `login` of the demo user to it. */
export async function setup(options: MockServerOptions = {}) {
  const server = await mockServer(options)
  const state = await tempFolder('cli')
  const env = { XDG_STATE_HOME: state }
  const folder = join(state, 'session-fetch')
  const login = (extra: string[] = [], more: Record<string, string> = {}) =>
    // --store file: the OS keychain is tested in cli-keychain*.test.ts, never touched here.
    cli(
      ['login', '--base-url', server.url, '--email', DEMO_USER.email_address, '--store', 'file', ...extra],
      {
        ...env,
        PLANTLY_PASSWORD: DEMO_USER.password,
        ...more,
      },
    )
  return { server, env, folder, login }
}

/** Every stored token of `profile`, to check that none is ever printed. */
export async function tokens(
  folder: string,
  profile = 'default',
  encryptionKey?: Uint8Array,
): Promise<string[]> {
  const store = fileStore({
    path: join(folder, `${profile}.json`),
    ...(encryptionKey ? { encryptionKey } : {}),
  })
  const session = (await store.read()).record?.session
  store.close()
  return [session?.access_token, session?.refresh_token].filter((t): t is string => typeof t === 'string')
}

/** Run a program (a shell, `script`) with the environment plus `env`, `input` on its stdin; killed after 60 s. */
export function runProgram(
  file: string,
  args: string[],
  input: string,
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
    // A program that does not read its input (`zsh -n file`) may exit before it is written: that is no failure.
    child.stdin.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') reject(error)
    })
    child.stdin.end(input)
  })
}
