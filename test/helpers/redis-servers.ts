// redis-server processes a test starts on free ports (standalone, cluster nodes, sentinels), each in a temp dir,
// keeping nothing on disk. Every one is stopped by its pid and its dir removed in afterAll, also when the test
// failed. Absent redis-server fails the test (never skips it).
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { createClient } from 'redis'
import { afterAll } from 'vitest'

const run = promisify(execFile)
const STARTUP_TIMEOUT_MS = 20_000 // a hang detector only

export interface RedisServer {
  readonly port: number
  readonly url: string
  /** The process now (a restart replaces it). */
  readonly pid: number | undefined
  /** Answers a command with redis-cli (strings in, the reply's text out). */
  cli(...args: string[]): Promise<string>
  /** Stop it (SIGTERM by pid, then SIGKILL) and wait until it exited. */
  stop(): Promise<void>
  /** kill -9, as a crashed machine. */
  kill(): Promise<void>
  /** Start it again on the same port and dir, with the same arguments. */
  start(): Promise<void>
  /** Whether its process is running. */
  readonly alive: boolean
}

const servers = new Set<RedisServer>()
const dirs = new Set<string>()

/** A TCP port nobody listens on, with `port + 10000` (a cluster node's bus port) free as well. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 25_000)
    if ((await isFree(port)) && (await isFree(port + 10_000))) return port
  }
  throw new Error('no free port pair found')
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer()
    probe.once('error', () => resolve(false))
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)))
  })
}

/** A temp dir removed in afterAll. */
export async function tempDir(label: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `session-fetch-${label}-`))
  dirs.add(dir)
  return dir
}

/**
 * Start `redis-server` (or `redis-server --sentinel` with `sentinel: true`) on a free port, in its own temp dir,
 * with nothing kept on disk, and wait until it answers PING.
 */
export async function startRedisServer(
  options: { args?: string[]; port?: number; sentinelConfig?: string } = {},
): Promise<RedisServer> {
  const port = options.port ?? (await freePort())
  const dir = await tempDir(`redis-${port}`)
  let child: ChildProcess | undefined
  let exited: Promise<void> = Promise.resolve()
  const base = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir]
  const args = options.sentinelConfig
    ? [join(dir, 'sentinel.conf'), '--sentinel', ...base, ...(options.args ?? [])]
    : [
        ...base,
        '--save',
        '',
        '--appendonly',
        'no',
        '--repl-diskless-sync-delay',
        '0',
        ...(options.args ?? []),
      ]
  if (options.sentinelConfig) {
    const { writeFile } = await import('node:fs/promises')
    await writeFile(join(dir, 'sentinel.conf'), options.sentinelConfig)
  }

  const cli = async (...command: string[]) => {
    const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...command], {
      timeout: 10_000,
    })
    return stdout.trim()
  }

  async function start(): Promise<void> {
    child = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'inherit'] })
    const current = child
    exited = new Promise((resolve) => {
      current.once('exit', () => resolve())
    })
    const failed = new Promise<never>((_, reject) => {
      current.once('error', (error) => reject(new Error(`redis-server could not start: ${error.message}`)))
    })
    const deadline = Date.now() + STARTUP_TIMEOUT_MS
    for (;;) {
      const answer = await Promise.race([cli('PING').catch(() => ''), failed])
      if (answer === 'PONG') return
      if (current.exitCode !== null) throw new Error(`redis-server on port ${port} exited at startup`)
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer PING`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  async function signal(name: NodeJS.Signals): Promise<void> {
    const current = child
    if (!current || current.exitCode !== null || current.signalCode !== null) return
    current.kill(name)
    const killer = setTimeout(() => current.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(killer)
  }

  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return child?.pid
    },
    get alive() {
      return child !== undefined && child.exitCode === null && child.signalCode === null
    },
    cli,
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
    start,
  }
  servers.add(server)
  await start()
  return server
}

/** A connected node-redis client to `url`, for looking at a server; closed by the caller. */
export async function inspect(url: string) {
  const client = createClient({ url, socket: { reconnectStrategy: false, connectTimeout: 2_000 } })
  client.on('error', () => {})
  await client.connect()
  return client
}

/** Wait until `check()` is true, polling; fails after `timeoutMs` (a hang detector, not a timing assertion). */
export async function eventually(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (
      await Promise.resolve()
        .then(check)
        .catch(() => false)
    )
      return
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** Stop every server this file started and remove their dirs (also registered as afterAll). */
export async function stopAllRedisServers(): Promise<void> {
  await Promise.allSettled([...servers].map((server) => server.stop()))
  servers.clear()
  await Promise.allSettled([...dirs].map((dir) => rm(dir, { recursive: true, force: true })))
  dirs.clear()
}

afterAll(stopAllRedisServers)

export interface RedisClusterNodes {
  readonly nodes: RedisServer[]
  readonly urls: string[]
  /** The node that is the primary of `key`'s hash slot now. */
  primaryOf(key: string): Promise<RedisServer>
  /** Every live node agrees the cluster is up, and `key`'s slot has a reachable primary. */
  healthy(key: string): Promise<boolean>
}

/**
 * A Redis Cluster of `primaries` primaries with one replica each, on free ports, nodes failing over after
 * `nodeTimeoutMs` of silence. Stopped with the other servers in afterAll.
 */
export async function startRedisCluster(primaries = 3, nodeTimeoutMs = 1_000): Promise<RedisClusterNodes> {
  const nodes = await Promise.all(
    Array.from({ length: primaries * 2 }, () =>
      startRedisServer({
        args: [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          'nodes.conf',
          '--cluster-node-timeout',
          String(nodeTimeoutMs),
        ],
      }),
    ),
  )
  await run(
    'redis-cli',
    [
      '--cluster',
      'create',
      ...nodes.map((node) => `127.0.0.1:${node.port}`),
      '--cluster-replicas',
      '1',
      '--cluster-yes',
    ],
    { timeout: 60_000 },
  )
  const alive = () => nodes.filter((node) => node.pid !== undefined && node.alive)
  const cluster: RedisClusterNodes = {
    nodes,
    urls: nodes.map((node) => node.url),
    async primaryOf(key) {
      const [asker] = alive()
      if (!asker) throw new Error('no cluster node is alive')
      const slot = Number(await asker.cli('CLUSTER', 'KEYSLOT', key))
      const lines = (await asker.cli('CLUSTER', 'NODES')).split('\n')
      for (const line of lines) {
        const [, address, flags, , , , , state, ...ranges] = line.split(' ')
        if (!flags?.includes('master') || flags.includes('fail') || state !== 'connected') continue
        const port = Number(address?.split('@')[0]?.split(':')[1])
        const serves = ranges.some((range) => {
          const [from, to = from] = range.split('-').map(Number) as [number, number?]
          return slot >= from && slot <= (to as number)
        })
        const node = nodes.find((candidate) => candidate.port === port)
        if (serves && node) return node
      }
      throw new Error(`no primary serves slot ${slot}`)
    },
    async healthy(key) {
      for (const node of alive()) {
        if (!(await node.cli('CLUSTER', 'INFO')).includes('cluster_state:ok')) return false
      }
      const primary = await cluster.primaryOf(key)
      return primary.alive && (await primary.cli('ROLE')).startsWith('master')
    },
  }
  await eventually(async () => {
    for (const node of nodes) {
      if (!(await node.cli('CLUSTER', 'INFO')).includes('cluster_state:ok')) return false
    }
    return true
  }, 'the cluster to be up')
  return cluster
}

export interface RedisSentinelSetup {
  readonly name: string
  readonly primary: RedisServer
  readonly replica: RedisServer
  readonly sentinels: RedisServer[]
  /** The primary's port as the sentinels see it now. */
  primaryPort(): Promise<number>
}

/**
 * One primary, one replica and three sentinels (quorum 2) watching them as `name`, a primary considered down after
 * `downAfterMs`. Stopped with the other servers in afterAll.
 */
export async function startRedisSentinel(
  name = 'session-fetch',
  downAfterMs = 1_000,
): Promise<RedisSentinelSetup> {
  const primary = await startRedisServer()
  const replica = await startRedisServer({ args: ['--replicaof', '127.0.0.1', String(primary.port)] })
  const config = [
    `sentinel monitor ${name} 127.0.0.1 ${primary.port} 2`,
    `sentinel down-after-milliseconds ${name} ${downAfterMs}`,
    `sentinel failover-timeout ${name} 10000`,
    `sentinel parallel-syncs ${name} 1`,
    '',
  ].join('\n')
  const sentinels = await Promise.all(
    Array.from({ length: 3 }, () => startRedisServer({ sentinelConfig: config })),
  )
  const setup: RedisSentinelSetup = {
    name,
    primary,
    replica,
    sentinels,
    async primaryPort() {
      const [sentinel] = sentinels.filter((node) => node.alive)
      const reply = await sentinel?.cli('SENTINEL', 'get-master-addr-by-name', name)
      return Number(reply?.split('\n')[1])
    },
  }
  await eventually(async () => {
    for (const sentinel of sentinels) {
      if (!(await sentinel.cli('SENTINEL', 'replicas', name)).includes(String(replica.port))) return false
      const others = (await sentinel.cli('SENTINEL', 'sentinels', name))
        .split('\n')
        .filter((l) => l === 'name')
      if (others.length < 2) return false
    }
    return (await replica.cli('INFO', 'replication')).includes('master_link_status:up')
  }, 'the sentinels to see the primary, the replica and each other')
  return setup
}
