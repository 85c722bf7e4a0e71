import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { expect, test } from 'vitest'
import { cli, runProgram, setup } from '../helpers/cli.js'
import { tempFolder } from '../helpers/file-store.js'

// The completion scripts for zsh and fish, parsed and run by those shells. They are not part of a fresh machine,
// so `npm test` leaves this file to `npm run test:system` (SYSTEM=1), which `.ci/run` runs after installing them;
// there it fails, never skips, when a shell is missing. bash's script is tested in cli-api.test.ts.

test('zsh and fish: scripts their shells parse, naming every command (fish completes from it)', async () => {
  const { env, login } = await setup()
  await login()
  const folder = await tempFolder('completion')
  for (const shell of ['zsh', 'fish']) {
    const script = await cli(['completion', shell], env)
    expect(script.code).toBe(0)
    for (const command of ['login', 'api', 'token', 'status', 'profiles', 'logout', 'completion']) {
      expect(script.stdout).toContain(command)
    }
    await writeFile(join(folder, shell), script.stdout)
    const check = await runProgram(shell, ['-n', join(folder, shell)], '', env)
    expect(check, shell).toMatchObject({ code: 0, stderr: '' })
  }
  const completions = async (line: string) => {
    const program = `source ${join(folder, 'fish')}; complete -C '${line}'`
    const { stdout } = await runProgram('fish', ['-c', program], '', env)
    return stdout.split('\n').map((row) => row.split('\t')[0])
  }
  expect(await completions('session-fetch to')).toEqual(['token', ''])
  expect(await completions('session-fetch api /x --re')).toEqual(['--request', '--retry', ''])
  expect(await completions('session-fetch --profile ')).toEqual(['default', ''])
}, 120_000)
