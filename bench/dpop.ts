// What a DPoP proof per request costs the client: authenticated GETs through the session's fetch with Bearer
// tokens and with DPoP (ES256 proof signed per request), as ratios to bare fetch in the same process, in
// alternating batches (order rotated per batch; median and range of the per-batch ratios).
//
// Usage: npx tsx bench/dpop.ts [batches=8] [calls=2000] [concurrency=32]
// The server runs in its own process: node:http on 127.0.0.1, a fixed small JSON body for any request, and a
// token endpoint that issues one-hour tokens (DPoP when the request carries a proof). It verifies nothing: only
// the client's cost is measured.
import { spawn } from 'node:child_process'
import { createSessionFetch } from '../src/index.js'
import { oauth2 } from '../src/protocols/oauth2/index.js'

const [batches = 8, calls = 2000, concurrency = 32] = process.argv.slice(2).map(Number)

const SERVER = `
const http = require('node:http')
const body = JSON.stringify({ id: 42, name: 'Monstera deliciosa' })
http.createServer((req, res) => {
  if (req.url === '/token') {
    req.resume()
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ access_token: 'bench-token-' + Date.now(), token_type: req.headers.dpop ? 'DPoP' : 'Bearer', expires_in: 3600 }))
    })
    return
  }
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
  res.end(body)
}).listen(0, '127.0.0.1', function () { process.stdout.write(String(this.address().port) + '\\n') })
`

async function main() {
  const server = spawn(process.execPath, ['-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] })
  try {
    const port = await new Promise<string>((resolve) =>
      server.stdout.once('data', (d) => resolve(String(d).trim())),
    )
    const base = `http://127.0.0.1:${port}`
    const make = (dpop: boolean) => {
      const api = createSessionFetch({
        baseURL: base,
        protocol: oauth2({ tokenEndpoint: `${base}/token`, clientId: 'bench', dpop }),
        credentials: () => ({ grant: 'client_credentials' }),
      })
      return api.fetch
    }
    const contenders: Record<string, typeof fetch> = {
      'bare-fetch': (input, init) =>
        fetch(`${base}${input}`, { ...init, headers: { authorization: 'Bearer x' } }),
      'session-fetch (Bearer)': make(false),
      'session-fetch (DPoP)': make(true),
    }
    const names = Object.keys(contenders)
    const run = async (f: typeof fetch, n: number) => {
      let next = 0
      const cpu = process.cpuUsage()
      const start = performance.now()
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next++ < n) await (await f('/plants/42')).arrayBuffer()
        }),
      )
      const used = process.cpuUsage(cpu)
      return { ms: performance.now() - start, cpuUs: (used.user + used.system) / n }
    }
    for (const name of names) await run(contenders[name] as typeof fetch, 500) // warm-up (and the logins)
    const ratios: Record<string, { tput: number[]; cpu: number[] }> = {}
    for (let b = 0; b < batches; b++) {
      const order = names.map((_, i) => names[(i + b) % names.length] as string)
      const results: Record<string, { ms: number; cpuUs: number }> = {}
      for (const name of order) results[name] = await run(contenders[name] as typeof fetch, calls)
      const bare = results['bare-fetch'] as { ms: number; cpuUs: number }
      for (const name of names) {
        const r = results[name] as { ms: number; cpuUs: number }
        ratios[name] ??= { tput: [], cpu: [] }
        ratios[name].tput.push(bare.ms / r.ms)
        ratios[name].cpu.push(r.cpuUs / bare.cpuUs)
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
    const f = (x: number) => x.toFixed(2)
    console.log(`${batches} batches × ${calls} GETs, concurrency ${concurrency}, Node ${process.version}`)
    console.log('| contender | throughput × bare (median, range) | CPU/request × bare (median, range) |')
    console.log('| --- | --- | --- |')
    for (const name of names) {
      const { tput, cpu } = ratios[name] as { tput: number[]; cpu: number[] }
      console.log(
        `| ${name} | ${f(median(tput))} (${f(Math.min(...tput))}–${f(Math.max(...tput))}) | ${f(median(cpu))} (${f(Math.min(...cpu))}–${f(Math.max(...cpu))}) |`,
      )
    }
  } finally {
    server.kill()
  }
}

await main()
