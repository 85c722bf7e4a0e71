// One streamed upload in a process of its own, to measure what it costs in memory: run with
// `node --expose-gc --import tsx test/helpers/stream-upload.ts <baseURL> <request|init|bare> <bytes>`. It logs
// in to the mock behind <baseURL> (except for bare fetch), sends <bytes> of a ReadableStream made as it is read
// (64 KiB chunks, nothing held) to POST <baseURL>/upload, and prints one JSON line: the answer's status and
// text, and two growths over the upload, in MiB: of the peak RSS (`process.resourceUsage().maxRSS`, which
// counts garbage not yet collected too), and of the peak live memory (heap + external, sampled every 10 ms
// right after a full GC), which only what is held counts in.
import { createSessionFetch, type SessionRequestInit } from '../../src/index.js'

const [baseURL, mode, size] = process.argv.slice(2) as [string, 'request' | 'init' | 'bare', string]
const total = Number(size)

function generated(): ReadableStream<Uint8Array> {
  let sent = 0
  return new ReadableStream({
    pull(controller) {
      if (sent >= total) return controller.close()
      const chunk = new Uint8Array(Math.min(64 * 1024, total - sent)).fill(sent % 251)
      sent += chunk.byteLength
      controller.enqueue(chunk)
    },
  })
}

const plantly = createSessionFetch({ baseURL })
if (mode !== 'bare') await plantly.login({ email_address: 'demo@plantly.test', password: 'plantly' })
const init: SessionRequestInit = { method: 'POST', body: generated(), duplex: 'half' }
const gc = (globalThis as { gc?: () => void }).gc
if (!gc) throw new Error('run with --expose-gc')
const live = () => {
  gc()
  const { heapUsed, external } = process.memoryUsage()
  return heapUsed + external
}
const liveBefore = live()
let livePeak = liveBefore
const sampler = setInterval(() => {
  livePeak = Math.max(livePeak, live())
}, 10)
const before = process.resourceUsage().maxRSS
const response =
  mode === 'request'
    ? await plantly.fetch(new Request(`${baseURL}/upload`, init))
    : mode === 'init'
      ? await plantly.fetch('/upload', init)
      : await fetch(`${baseURL}/upload`, init)
const text = await response.text()
const rss = (process.resourceUsage().maxRSS - before) / 1024
clearInterval(sampler)
const held = (livePeak - liveBefore) / 1024 / 1024
console.log(JSON.stringify({ status: response.status, text, rss, live: held }))
