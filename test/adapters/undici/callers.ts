import { createHash } from 'node:crypto'
import { type Dispatcher, getGlobalDispatcher, request, fetch as undiciFetch } from 'undici'

/** How long a test waits for something that must happen before calling it a hang (never a timing check). */
export const HANG_MS = 10_000

/** Fails when `promise` has not settled within the hang detector: a hang, never a timing measurement. */
export function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still waiting for ${what} after ${HANG_MS} ms`)), HANG_MS)
  })
  return Promise.race([promise, hang]).finally(() => clearTimeout(timer))
}

export interface Digest {
  length: number
  hash: string
}

async function digest(chunks: AsyncIterable<Uint8Array>): Promise<Digest> {
  const hasher = createHash('sha256')
  let length = 0
  for await (const chunk of chunks) {
    hasher.update(chunk)
    length += chunk.byteLength
  }
  return { length, hash: hasher.digest('hex') }
}

/** An answer as each caller sees it: status and headers first, then its body, read as it comes. */
export interface Got {
  status: number
  header(name: string): string | undefined
  read(): Promise<Digest>
}

/** A handler of undici's newer interface, dispatched directly on the global dispatcher. */
export function dispatchNewer(url: string): Promise<Got> {
  const { origin, pathname } = new URL(url)
  const hasher = createHash('sha256')
  let length = 0
  let end: () => void = () => undefined
  let fail: (error: Error) => void = () => undefined
  const body = new Promise<Digest>((resolve, reject) => {
    end = () => resolve({ length, hash: hasher.digest('hex') })
    fail = reject
  })
  body.catch(() => undefined)
  return new Promise<Got>((resolve, reject) => {
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart() {},
      onResponseStart(_controller, status, headers) {
        resolve({ status, header: (name) => headers[name] as string | undefined, read: () => body })
      },
      onResponseData(_controller, chunk) {
        hasher.update(chunk)
        length += chunk.length
      },
      onResponseEnd() {
        end()
      },
      onResponseError(_controller, error) {
        reject(error)
        fail(error)
      },
    }
    getGlobalDispatcher().dispatch({ origin, path: pathname, method: 'GET' }, handler)
  })
}

function fromFetch(response: Response): Got {
  return {
    status: response.status,
    header: (name) => response.headers.get(name) ?? undefined,
    read: () => digest(response.body as unknown as AsyncIterable<Uint8Array>),
  }
}

export const CALLERS: [string, (url: string) => Promise<Got>][] = [
  [
    'undici.request',
    async (url) => {
      const response = await request(url)
      return {
        status: response.statusCode,
        header: (name) => response.headers[name] as string | undefined,
        read: () => digest(response.body),
      }
    },
  ],
  ['undici.fetch', async (url) => fromFetch((await undiciFetch(url)) as unknown as Response)],
  ["Node's global fetch", async (url) => fromFetch(await globalThis.fetch(url))],
  ['a newer-interface handler dispatched directly', dispatchNewer],
]
