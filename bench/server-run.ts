// `npm run bench:server`: the server side (session-fetch/server), each measurement in processes of its own
// (bench/server-child.ts), rounds alternating their order; medians with the per-round spread [min–max]. Writes
// bench/out/server.json and prints the table bench/SERVER.md keeps.
// Options: --batches 30 (pair)  --rounds 5  --calls 50000  --users 1000  --clients 100000  --memory-rounds 3  --storm-users 1000
//          --per-user 20  --storm-rounds 3  --only cpu,memory,storm
import { fork, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { build } from 'esbuild'
import { startMockServer } from '../src/testing/mock/index.js'

const here = fileURLToPath(new URL('.', import.meta.url))
const { values: args } = parseArgs({
  options: {
    only: { type: 'string', default: 'cpu,pair,instructions,memory,storm' },
    batches: { type: 'string', default: '30' },
    'instruction-calls': { type: 'string', default: '2000' },
    'instruction-runs': { type: 'string', default: '2' },
    rounds: { type: 'string', default: '5' },
    calls: { type: 'string', default: '50000' },
    users: { type: 'string', default: '1000' },
    clients: { type: 'string', default: '100000' },
    'memory-rounds': { type: 'string', default: '3' },
    'storm-users': { type: 'string', default: '1000' },
    'per-user': { type: 'string', default: '20' },
    'storm-rounds': { type: 'string', default: '3' },
  },
})
const phases = new Set(args.only.split(','))

// Bundled as the other benchmarks' clients are (esbuild, no name-keeping wrappers: tsx's would put every function
// of a client in dictionary mode, and triple its memory).
const bundle = `${here}.build/server-child-${process.pid}.mjs`
await build({
  entryPoints: [`${here}server-child.ts`],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outfile: bundle,
  banner: {
    js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
  },
  logLevel: 'silent',
})

function child<T>(job: object, flags: string[] = []): Promise<T> {
  return new Promise((resolve, reject) => {
    const proc = fork(bundle, [JSON.stringify(job)], {
      execArgv: flags,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    proc.once('message', (message: { ok: boolean; result?: T; error?: string }) =>
      message.ok ? resolve(message.result as T) : reject(new Error(message.error)),
    )
    proc.once('exit', (code) => {
      if (code !== 0) reject(new Error(`bench child exited with ${code}`))
    })
  })
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] as number
}
const spread = (values: number[], digits = 2) =>
  `${median(values).toFixed(digits)} [${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}]`

const log = (line: string) => console.log(line)
const out: Record<string, unknown> = {
  date: new Date().toISOString(),
  node: process.version,
  cpus: os.cpus().length,
  load: os.loadavg()[0],
}
const table: string[] = []

if (phases.has('cpu')) {
  const rounds = Number(args.rounds)
  const calls = Number(args.calls)
  const users = Number(args.users)
  const contenders = ['client', 'clients', 'pool'] as const
  type Got = { bareUs: number; contenderUs: number }
  const perRound: Array<Record<string, number>> = []
  for (let round = 0; round < rounds; round++) {
    // Each round starts at another contender.
    const order = contenders.map((_, i) => contenders[(i + round) % contenders.length] as string)
    const got: Record<string, Got> = {}
    for (const contender of order) got[contender] = await child({ mode: 'cpu', contender, calls, users })
    const [client, clients, pool] = contenders.map((name) => got[name] as Got) as [Got, Got, Got]
    const row = {
      clientUs: client.contenderUs,
      clientsUs: clients.contenderUs,
      poolUs: pool.contenderUs,
      // Each against bare fetch (the stub) measured in its own process.
      clientRatio: client.contenderUs / client.bareUs,
      clientsRatio: clients.contenderUs / clients.bareUs,
      poolRatio: pool.contenderUs / pool.bareUs,
      poolMinusClientUs: pool.contenderUs - client.contenderUs,
      poolMinusClientsUs: pool.contenderUs - clients.contenderUs,
    }
    perRound.push(row)
    log(`cpu round ${round + 1}: ${JSON.stringify(row)}`)
  }
  const pick = (key: string) => perRound.map((row) => row[key] as number)
  out.cpu = { calls, users, rounds, perRound }
  table.push(
    `### CPU per call, no network (${calls} calls × 3 per process, ${users} users, ${rounds} rounds)`,
    '',
    '| | µs per call | × bare fetch (same process) |',
    '| --- | --- | --- |',
    `| one client's \`fetch\` | ${spread(pick('clientUs'))} | ${spread(pick('clientRatio'))} |`,
    `| ${users} clients' \`fetch\`, in turn (no pool) | ${spread(pick('clientsUs'))} | ${spread(pick('clientsRatio'))} |`,
    `| \`pool.for(key).fetch\`, ${users} keys in turn | ${spread(pick('poolUs'))} | ${spread(pick('poolRatio'))} |`,
    `| pool − one client | ${spread(pick('poolMinusClientUs'))} | |`,
    `| pool − ${users} clients (the pool's own cost) | ${spread(pick('poolMinusClientsUs'))} | |`,
    '',
  )
}

if (phases.has('pair')) {
  const calls = Math.round(Number(args.calls) / 5)
  const batches = Number(args.batches)
  const users = Number(args.users)
  const got = await child<{ client: number[]; poolOneKey: number[]; poolInTurn: number[] }>({
    mode: 'pair',
    calls,
    batches,
    users,
  })
  const oneKey = got.poolOneKey.map((us, i) => us - (got.client[i] as number))
  const inTurn = got.poolInTurn.map((us, i) => us - (got.client[i] as number))
  out.pair = { calls, batches, users, ...got, oneKeyMinusClient: oneKey, inTurnMinusClient: inTurn }
  log(`pair: ${JSON.stringify({ oneKey: median(oneKey), inTurn: median(inTurn) })}`)
  table.push(
    `### The pool's own cost, one process (${batches} batches of ${calls} calls of each, alternating; ${users} users)`,
    '',
    '| | µs per call | − one client (same batch) |',
    '| --- | --- | --- |',
    `| one client's \`fetch\` | ${spread(got.client)} | |`,
    `| \`pool.for(key).fetch\`, the same key | ${spread(got.poolOneKey)} | ${spread(oneKey)} |`,
    `| \`pool.for(key).fetch\`, ${users} keys in turn | ${spread(got.poolInTurn)} | ${spread(inTurn)} |`,
    '',
  )
}

/** One contender under valgrind's callgrind, counting only its measured calls: instructions per call. */
function countInstructions(job: object, calls: number): Promise<number> {
  const file = `${os.tmpdir()}/session-fetch-server-callgrind-${process.pid}-${Date.now()}-${Math.random()}.out`
  const proc = spawn(
    'valgrind',
    [
      '--tool=callgrind',
      '--instr-atstart=no',
      `--callgrind-out-file=${file}`,
      process.execPath,
      bundle,
      JSON.stringify(job),
    ],
    { stdio: ['ignore', 'inherit', 'ignore', 'ipc'] },
  )
  return new Promise((resolve, reject) => {
    let answer: { ok?: boolean; error?: string } | undefined
    proc.on('message', (message: { ask?: string; ok?: boolean }) => {
      if (message.ask) {
        spawnSync('callgrind_control', ['-i', message.ask === 'count-on' ? 'on' : 'off', String(proc.pid)], {
          stdio: 'ignore',
        })
        proc.send('done')
      } else answer = message
    })
    proc.once('exit', () => {
      const text = existsSync(file) ? readFileSync(file, 'utf8') : ''
      if (existsSync(file)) unlinkSync(file)
      const total = Number(/^totals: (\d+)/m.exec(text)?.[1] ?? Number.NaN)
      if (!answer?.ok || !Number.isFinite(total))
        reject(new Error(`instructions: ${answer?.error ?? 'no count'}`))
      else resolve(total / calls)
    })
  })
}

if (phases.has('instructions') && spawnSync('valgrind', ['--version']).status === 0) {
  const calls = Number(args['instruction-calls'])
  const runs = Number(args['instruction-runs'])
  const users = Number(args.users)
  const counts: Record<string, number[]> = { client: [], clients: [], pool: [] }
  // Two at a time (the machine's two cores): instruction counts do not depend on the load.
  const queue = Array.from({ length: runs }, () => Object.keys(counts)).flat()
  const next = async (): Promise<void> => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      const perCall = await countInstructions(
        { mode: 'cpu', contender: name, calls, users, instructions: true, warmup: 8_000 },
        calls,
      )
      counts[name]?.push(perCall)
      log(`instructions ${name}: ${Math.round(perCall)} per call`)
    }
  }
  await Promise.all([next(), next()])
  const thousands = (name: string) => (counts[name] as number[]).map((n) => n / 1000)
  const poolMinus = (other: string) =>
    (counts.pool as number[]).map((n, i) => (n - ((counts[other] as number[])[i] as number)) / 1000)
  out.instructions = { calls, runs, users, counts }
  table.push(
    `### Instructions per call under callgrind (${calls} calls after 8,000 to warm up, ${runs} runs each)`,
    '',
    '| | thousand instructions per call |',
    '| --- | --- |',
    `| one client's \`fetch\` | ${spread(thousands('client'), 1)} |`,
    `| ${users} clients' \`fetch\`, in turn | ${spread(thousands('clients'), 1)} |`,
    `| \`pool.for(key).fetch\`, ${users} keys in turn | ${spread(thousands('pool'), 1)} |`,
    `| pool − one client | ${spread(poolMinus('client'), 1)} |`,
    `| pool − ${users} clients (the pool's own cost) | ${spread(poolMinus('clients'), 1)} |`,
    '',
  )
}

if (phases.has('memory')) {
  const clients = Number(args.clients)
  const rounds = Number(args['memory-rounds'])
  const evictedMax = 1_000
  const perRound: Array<Record<string, Record<string, number>>> = []
  for (let round = 0; round < rounds; round++) {
    const live = await child<Record<string, number>>({ mode: 'memory', clients, max: clients }, [
      '--expose-gc',
    ])
    const evicted = await child<Record<string, number>>({ mode: 'memory', clients, max: evictedMax }, [
      '--expose-gc',
    ])
    perRound.push({ live, evicted })
    log(`memory round ${round + 1}: ${JSON.stringify({ live, evicted })}`)
  }
  const pick = (which: string, key: string) =>
    perRound.map((row) => ((row[which] as Record<string, number>)[key] as number) / 1024)
  out.memory = { clients, rounds, perRound }
  table.push(
    `### Memory per user of a pool of ${clients.toLocaleString('en')} users, memory stores (${rounds} processes each)`,
    '',
    `| KB per user | all ${clients.toLocaleString('en')} clients live | \`max: ${evictedMax}\` (the others evicted) |`,
    '| --- | --- | --- |',
    `| the pool, all told | ${spread(pick('live', 'poolBytesPerUser'))} | ${spread(pick('evicted', 'poolBytesPerUser'))} |`,
    `| of it, the tokens (session objects and strings) | ${spread(pick('live', 'tokenBytesPerUser'))} | ${spread(pick('evicted', 'tokenBytesPerUser'))} |`,
    `| beyond the tokens | ${spread(pick('live', 'beyondTokensBytesPerUser'))} | ${spread(pick('evicted', 'beyondTokensBytesPerUser'))} |`,
    '',
  )
}

if (phases.has('storm')) {
  const users = Number(args['storm-users'])
  const perUser = Number(args['per-user'])
  const rounds = Number(args['storm-rounds'])
  const perRound: Array<Record<string, number>> = []
  for (let round = 0; round < rounds; round++) {
    const server = await startMockServer({
      users: Object.fromEntries(
        Array.from({ length: users }, (_, i) => [`user-${i}@plantly.test`, `pw-${i}`]),
      ),
      accessTtlSeconds: 3600,
      logLimit: 1,
    })
    try {
      const result = await child<Record<string, number>>({ mode: 'storm', url: server.url, users, perUser })
      const row = {
        ...result,
        serverRefreshes: server.counters.refreshes,
        reuse: server.counters.reuseDetected,
        refreshRejected: server.counters.refreshRejected,
        ratio: (result.expiryMs as number) / (result.steadyMs as number),
      }
      perRound.push(row)
      log(`storm round ${round + 1}: ${JSON.stringify(row)}`)
    } finally {
      await server.close()
    }
  }
  const pick = (key: string) => perRound.map((row) => row[key] as number)
  out.storm = { users, perUser, rounds, perRound }
  table.push(
    `### ${users.toLocaleString('en')} users × ${perUser} concurrent requests, one process, mock over HTTP (${rounds} rounds)`,
    '',
    '| | median [min–max] |',
    '| --- | --- |',
    `| refreshes (server) | ${spread(pick('serverRefreshes'), 0)} |`,
    `| reuse detected | ${spread(pick('reuse'), 0)} |`,
    `| failed requests | ${spread(pick('failed'), 0)} |`,
    `| time, no expiry (ms) | ${spread(pick('steadyMs'), 0)} |`,
    `| time across the expiry (ms) | ${spread(pick('expiryMs'), 0)} |`,
    `| across the expiry ÷ no expiry | ${spread(pick('ratio'))} |`,
    '',
  )
}

mkdirSync(`${here}out`, { recursive: true })
writeFileSync(`${here}out/server.json`, `${JSON.stringify(out, null, 2)}\n`)
log(`\nNode ${process.version}, ${os.cpus().length} CPUs, load ${os.loadavg()[0]?.toFixed(2)}\n`)
log(table.join('\n'))
