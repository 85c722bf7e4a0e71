// What one live client of a pool retains, measured alone: heap per client after GC, and a heap snapshot's
// breakdown of it (closures, contexts, objects by constructor, Maps and Sets, AbortControllers).
//
//   npx tsx bench/client-memory.ts                              # 100,000 pool clients, 3 processes
//   npx tsx bench/client-memory.ts --clients 20000 --rounds 5 --mode clients
//   npx tsx bench/client-memory.ts --breakdown 2000             # a heap snapshot's per-client breakdown too
//
// Bundled with esbuild and run in child processes with --expose-gc, as bench/server-run.ts runs its memory phase
// (tsx's name-keeping wrappers would change the shapes measured). `--mode pool`: `sessionPool`'s clients, each
// logged in and one request made through it (the server bench's memory phase, without its pool of tokens);
// `--mode clients`: bare `createSessionFetch` clients, the same calls. Tokens are subtracted: heap of the same
// session objects and strings alone.
import { fork } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { writeHeapSnapshot } from 'node:v8'
import { STUB_BASE, stubApi, tokensAlone } from './stub-api.js'

const BASE = STUB_BASE

interface Job {
  mode: 'pool' | 'clients'
  clients: number
  /** Write two heap snapshots (before and after) and return the per-client difference. */
  breakdown?: boolean
}

interface Result {
  clients: number
  bytesPerClient: number
  tokenBytesPerClient: number
  beyondTokensPerClient: number
  breakdown?: Breakdown
}

interface Breakdown {
  perClient: { nodes: number; bytes: number }
  byType: Record<string, { count: number; bytes: number }>
  top: Array<{ type: string; name: string; count: number; bytes: number }>
  /** New objects and contexts grouped by what they hold: `{…}` their properties, `ctx[…]` a context's variables. */
  shapes: Array<{ shape: string; count: number; bytes: number }>
}

async function measure(job: Job): Promise<Result> {
  const { createSessionFetch } = await import('../src/index.js')
  const { sessionPool } = await import('../src/server/index.js')
  const gc = (globalThis as { gc?: () => void }).gc
  if (!gc) throw new Error('run with --expose-gc')
  const used = async () => {
    await new Promise((resolve) => setTimeout(resolve, 50))
    gc()
    gc()
    return process.memoryUsage().heapUsed
  }
  const api = stubApi()
  const stub = api.fetch
  const keys = Array.from({ length: job.clients }, (_, i) => `user-${i}`)
  const before = await used()
  let tokensOnly: object[] | undefined = tokensAlone(keys)
  const tokenBytes = (await used()) - before
  tokensOnly = undefined
  void tokensOnly
  // Warm up the modules every client shares (lazy chunks, p-queue) with one throwaway client, so that they are
  // not counted as the clients' cost.
  {
    const warm = createSessionFetch({ baseURL: BASE, fetch: stub })
    await warm.login({ email_address: 'warm', password: 'x' })
    await (await warm.fetch('/plants/42')).text()
    await warm.close()
    const warmPool = sessionPool({ baseURL: BASE, fetch: stub })
    await warmPool.for('warm').login({ email_address: 'warm', password: 'x' })
    await (await warmPool.for('warm').fetch('/plants/42')).text()
    await warmPool.close()
  }
  const snapshotDir = join(tmpdir(), `client-memory-${process.pid}`)
  if (job.breakdown) mkdirSync(snapshotDir, { recursive: true })
  const empty = await used()
  const beforeSnapshot = job.breakdown
    ? writeHeapSnapshot(join(snapshotDir, 'before.heapsnapshot'))
    : undefined
  const emptyAgain = job.breakdown ? await used() : empty
  const pool = job.mode === 'pool' ? sessionPool({ baseURL: BASE, fetch: stub, max: job.clients }) : undefined
  const clients: unknown[] = []
  for (let i = 0; i < keys.length; i += 500) {
    await Promise.all(
      keys.slice(i, i + 500).map(async (key) => {
        const client = pool ? pool.for(key) : createSessionFetch({ baseURL: BASE, fetch: stub })
        if (!pool) clients.push(client)
        await client.login({ email_address: key, password: 'x' })
        await (await client.fetch('/plants/42')).text()
      }),
    )
  }
  api.forget()
  const bytes = (await used()) - emptyAgain
  let breakdown: Breakdown | undefined
  if (job.breakdown && beforeSnapshot) {
    const afterSnapshot = writeHeapSnapshot(join(snapshotDir, 'after.heapsnapshot'))
    breakdown = {
      ...diff(count(beforeSnapshot), count(afterSnapshot), job.clients),
      shapes: shapes(afterSnapshot, maxId(beforeSnapshot), job.clients),
    }
    // KEEP=1 keeps the two snapshots (to open them in DevTools).
    if (!process.env.KEEP) rmSync(snapshotDir, { recursive: true, force: true })
  }
  if (pool && pool.size !== job.clients) throw new Error(`pool kept ${pool.size} clients`)
  void clients.length
  return {
    clients: job.clients,
    bytesPerClient: bytes / job.clients,
    tokenBytesPerClient: tokenBytes / job.clients,
    beyondTokensPerClient: (bytes - tokenBytes) / job.clients,
    ...(breakdown ? { breakdown } : {}),
  }
}

type Counts = Map<string, { count: number; bytes: number }>

// Nodes of a heap snapshot counted by type and name (a closure's name is its function's; an object's, its
// constructor's).
function count(file: string): Counts {
  const snapshot = JSON.parse(readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } }
    nodes: number[]
    strings: string[]
  }
  const fields = snapshot.snapshot.meta.node_fields
  const types = snapshot.snapshot.meta.node_types[0]
  const width = fields.length
  const typeAt = fields.indexOf('type')
  const nameAt = fields.indexOf('name')
  const sizeAt = fields.indexOf('self_size')
  const counts: Counts = new Map()
  for (let i = 0; i < snapshot.nodes.length; i += width) {
    const type = types[snapshot.nodes[i + typeAt] as number] as string
    let name = snapshot.strings[snapshot.nodes[i + nameAt] as number] as string
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string') name = ''
    else if (type === 'number') name = ''
    else if (name.length > 60) name = `${name.slice(0, 60)}…`
    const key = `${type}\u0000${name}`
    const slot = counts.get(key) ?? { count: 0, bytes: 0 }
    slot.count++
    slot.bytes += snapshot.nodes[i + sizeAt] as number
    counts.set(key, slot)
  }
  return counts
}

interface Snapshot {
  snapshot: {
    meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] }
  }
  nodes: number[]
  edges: number[]
  strings: string[]
}

function maxId(file: string): number {
  const snapshot = JSON.parse(readFileSync(file, 'utf8')) as Snapshot
  const width = snapshot.snapshot.meta.node_fields.length
  const idAt = snapshot.snapshot.meta.node_fields.indexOf('id')
  const typeAt = snapshot.snapshot.meta.node_fields.indexOf('type')
  const types = snapshot.snapshot.meta.node_types[0]
  let max = 0
  // JavaScript objects only: synthetic and native nodes (roots, embedder objects) have ids of their own scheme.
  for (let i = 0; i < snapshot.nodes.length; i += width) {
    const type = types[snapshot.nodes[i + typeAt] as number]
    if (type === 'object' || type === 'closure' || type === 'array')
      max = Math.max(max, snapshot.nodes[i + idAt] as number)
  }
  return max
}

// The objects and contexts allocated after `since`, grouped by their properties' (a context's variables') names,
// each with its own size plus the size of its out-of-object property store ("(object properties)": a dictionary
// or a grown backing store) and of an element store.
function shapes(file: string, since: number, clients: number): Breakdown['shapes'] {
  const snapshot = JSON.parse(readFileSync(file, 'utf8')) as Snapshot
  const meta = snapshot.snapshot.meta
  const width = meta.node_fields.length
  const edgeWidth = meta.edge_fields.length
  const types = meta.node_types[0]
  const edgeTypes = meta.edge_types[0]
  const { nodes, edges, strings } = snapshot
  const at = (field: string) => meta.node_fields.indexOf(field)
  const [typeAt, nameAt, idAt, sizeAt, edgeCountAt] = ['type', 'name', 'id', 'self_size', 'edge_count'].map(
    at,
  ) as [number, number, number, number, number]
  const groups = new Map<string, { count: number; bytes: number }>()
  let edge = 0
  for (let i = 0; i < nodes.length; i += width) {
    const edgeCount = nodes[i + edgeCountAt] as number
    const first = edge
    edge += edgeCount * edgeWidth
    if ((nodes[i + idAt] as number) <= since) continue
    const type = types[nodes[i + typeAt] as number]
    const name = strings[nodes[i + nameAt] as number] as string
    const isContext = name === 'system / Context'
    if (type !== 'object' || (name.startsWith('system /') && !isContext)) continue
    const names: string[] = []
    let bytes = nodes[i + sizeAt] as number
    for (let e = first; e < edge; e += edgeWidth) {
      const edgeType = edgeTypes[edges[e] as number]
      const target = edges[e + 2] as number
      const label = edgeType === 'element' || edgeType === 'hidden' ? '' : strings[edges[e + 1] as number]
      if (isContext ? edgeType === 'context' : edgeType === 'property') names.push(label as string)
      else if (
        edgeType === 'internal' &&
        (label === 'properties' || label === 'elements' || label === 'table')
      ) {
        if ((nodes[target + idAt] as number) > since) bytes += nodes[target + sizeAt] as number
      }
    }
    const shape = isContext ? `ctx[${names.join(',')}]` : `${name}{${names.join(',')}}`
    const key = shape.length > 150 ? `${shape.slice(0, 150)}…` : shape
    const slot = groups.get(key) ?? { count: 0, bytes: 0 }
    slot.count++
    slot.bytes += bytes
    groups.set(key, slot)
  }
  return [...groups]
    .map(([shape, slot]) => ({
      shape,
      count: round(slot.count / clients),
      bytes: round(slot.bytes / clients),
    }))
    .filter((row) => row.count >= 0.5)
    .sort((a, b) => b.bytes - a.bytes)
}

function diff(before: Counts, after: Counts, clients: number): Omit<Breakdown, 'shapes'> {
  const rows: Breakdown['top'] = []
  const byType: Breakdown['byType'] = {}
  let nodes = 0
  let bytes = 0
  for (const [key, slot] of after) {
    const was = before.get(key) ?? { count: 0, bytes: 0 }
    const count = (slot.count - was.count) / clients
    const size = (slot.bytes - was.bytes) / clients
    if (Math.abs(count) < 0.5 && Math.abs(size) < 4) continue
    const [type, name] = key.split('\u0000') as [string, string]
    rows.push({ type, name, count: round(count), bytes: round(size) })
    const typed = byType[type] ?? { count: 0, bytes: 0 }
    typed.count = round(typed.count + count)
    typed.bytes = round(typed.bytes + size)
    byType[type] = typed
    nodes += count
    bytes += size
  }
  rows.sort((a, b) => b.bytes - a.bytes)
  return { perClient: { nodes: round(nodes), bytes: round(bytes) }, byType, top: rows }
}

const round = (value: number) => Math.round(value * 100) / 100

function spread(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b)
  const median = sorted[Math.floor(sorted.length / 2)] as number
  const kb = (value: number) => (value / 1024).toFixed(2)
  return `${kb(median)} KB [${kb(sorted[0] as number)}–${kb(sorted[sorted.length - 1] as number)}]`
}

if (process.env.CLIENT_MEMORY_JOB) {
  const result = await measure(JSON.parse(process.env.CLIENT_MEMORY_JOB) as Job)
  process.send?.(result)
  process.exit(0)
} else {
  const { values: args } = parseArgs({
    options: {
      clients: { type: 'string', default: '100000' },
      rounds: { type: 'string', default: '3' },
      mode: { type: 'string', default: 'pool' },
      breakdown: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  })
  const { build } = await import('esbuild')
  const here = fileURLToPath(new URL('.', import.meta.url))
  const bundle = `${here}.build/client-memory-${process.pid}.mjs`
  await build({
    entryPoints: [`${here}client-memory.ts`],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: bundle,
    external: ['esbuild'],
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
    logLevel: 'silent',
  })
  const run = (job: Job) =>
    new Promise<Result>((resolve, reject) => {
      const proc = fork(bundle, [], {
        execArgv: ['--expose-gc', '--max-old-space-size=4096'],
        env: { ...process.env, CLIENT_MEMORY_JOB: JSON.stringify(job) },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      })
      proc.once('message', (message) => resolve(message as Result))
      proc.once('exit', (code) => {
        if (code !== 0) reject(new Error(`child exited with ${code}`))
      })
    })
  try {
    const mode = args.mode === 'clients' ? 'clients' : 'pool'
    const clients = Number(args.clients)
    const results: Result[] = []
    for (let round = 0; round < Number(args.rounds); round++) {
      const result = await run({ mode, clients })
      results.push(result)
      console.log(
        `round ${round + 1}: ${(result.bytesPerClient / 1024).toFixed(2)} KB per client, ` +
          `${(result.beyondTokensPerClient / 1024).toFixed(2)} KB beyond the tokens`,
      )
    }
    console.log(
      `${mode}, ${clients.toLocaleString('en')} clients, ${results.length} processes: ` +
        `${spread(results.map((r) => r.bytesPerClient))} per client, ` +
        `${spread(results.map((r) => r.beyondTokensPerClient))} beyond the tokens`,
    )
    if (args.breakdown) {
      const result = await run({ mode, clients: Number(args.breakdown), breakdown: true })
      const { breakdown } = result
      if (breakdown) {
        if (args.json) console.log(JSON.stringify(breakdown, null, 2))
        console.log(
          `\nheap snapshot, ${mode}, per client (${args.breakdown} clients): ${breakdown.perClient.nodes} nodes, ${breakdown.perClient.bytes} B self size`,
        )
        console.log('\nby node type:')
        for (const [type, slot] of Object.entries(breakdown.byType).sort((a, b) => b[1].bytes - a[1].bytes))
          console.log(
            `  ${type.padEnd(20)} ${String(slot.count).padStart(8)} ${String(slot.bytes).padStart(8)} B`,
          )
        console.log('\ntop (type, name, count, bytes per client):')
        for (const row of breakdown.top.slice(0, 80))
          console.log(
            `  ${row.type.padEnd(12)} ${row.name.padEnd(44)} ${String(row.count).padStart(7)} ${String(row.bytes).padStart(8)} B`,
          )
        console.log(
          '\nnew objects and contexts by shape (count, own + property/element store bytes per client):',
        )
        for (const row of breakdown.shapes.slice(0, 60))
          console.log(`  ${String(row.count).padStart(5)} ${String(row.bytes).padStart(7)} B  ${row.shape}`)
      }
    }
  } finally {
    rmSync(bundle, { force: true })
  }
}
