import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

// The `session-fetch` command run as a real process (node --import tsx), stdout and stderr on pipes.
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))
const HANG_DETECTOR_MS = 150_000

export interface CliRun {
  code: number | null
  stdout: string
  stderr: string
}

/**
 * Run `session-fetch args` with `env` over the test process's environment (PLANTLY_PASSWORD,
 * SESSION_FETCH_BASE_URL and DBUS_SESSION_BUS_ADDRESS removed unless `env` sets them), `input` on stdin.
 */
export function runCli(
  args: readonly string[],
  env: Record<string, string | undefined>,
  input = '',
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
      env: {
        ...process.env,
        PLANTLY_PASSWORD: undefined,
        SESSION_FETCH_BASE_URL: undefined,
        DBUS_SESSION_BUS_ADDRESS: undefined,
        ...env,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`session-fetch ${args.join(' ')} did not finish`))
    }, HANG_DETECTOR_MS)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
    child.stdin.end(input)
  })
}
