// Host for the runtimes that run a script from the command line (Node, Bun, Deno): the mock's URL is the first
// argument.
import { runScenario } from '../scenario.js'
import { crashed, report } from './report.js'

declare const Deno: { args: string[] } | undefined

const base = typeof Deno === 'object' ? Deno?.args[0] : process.argv[2]
if (!base) throw new Error('usage: <runtime> cli.mjs <mock URL>')
const result = await runScenario(base).catch(crashed)
await report(base, 'cli', result)
