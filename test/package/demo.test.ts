import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, describe, expect, test } from 'vitest'

// `npm run demo` is the first thing a new user runs: every phase must show what it says it shows, on a loaded
// machine too (before, a proactive refresh could pre-empt the mid-burst expiry and the demo printed 0 replays).
const run = promisify(execFile)
const root = fileURLToPath(new URL('../..', import.meta.url))
const busy: ChildProcess[] = []
afterAll(() => {
  for (const child of busy) child.kill('SIGKILL')
})

function rows(stdout: string): Map<string, number[]> {
  const table = new Map<string, number[]>()
  for (const line of stdout.split('\n')) {
    const match = /^(\S.*?)\s{2,}(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$/.exec(line)
    if (match) table.set(match[1] as string, match.slice(2).map(Number))
  }
  return table
}

describe('npm run demo', () => {
  test('every phase shows its outcome, with the machine busy: 0/1/1/1 refreshes, 250 replays, 500 refused after logout', async () => {
    // Two processes spinning on the CPU (this machine has two cores) while the demo runs.
    for (let i = 0; i < 2; i++) {
      busy.push(spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }))
    }
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'demo/demo.ts'], {
      cwd: root,
      timeout: 60_000,
    })
    const table = rows(stdout)
    // columns: requests, ok, failed, refreshes, replays, ms
    expect([...table.keys()]).toEqual([
      'fresh token',
      'refresh window: sent at once, one refresh behind',
      'must-refresh margin: wait for one refresh',
      'server ends the token after 250 calls (401s)',
      'after logout: no token sent, 401s expected',
    ])
    const [fresh, window, margin, ended, loggedOut] = [...table.values()].map((r) => r.slice(0, 5))
    expect(fresh).toEqual([500, 500, 0, 0, 0])
    expect(window).toEqual([500, 500, 0, 1, 0])
    expect(margin).toEqual([500, 500, 0, 1, 0])
    expect(ended).toEqual([500, 500, 0, 1, 250])
    expect(loggedOut).toEqual([500, 0, 500, 0, 0])
    expect(stdout).toContain('0 refresh-token reuses')
  }, 90_000)
})
