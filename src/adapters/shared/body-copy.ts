/**
 * A copy of what a streamed body sent, kept up to `limit` bytes: if the whole body was sent and fit, a refused
 * request can be replayed with the same bytes. Chunks pass through unchanged and unbuffered.
 */
export interface BodyCopy {
  /** A chunk went out. */
  add(chunk: Uint8Array): void
  /** The body went out whole. */
  end(): void
  /** The bytes sent, when the whole body went out and fit in the limit; undefined otherwise. */
  bytes(): Uint8Array<ArrayBuffer> | undefined
  /** Forget the copy (the answer arrived and needs no replay). */
  release(): void
}

export function createBodyCopy(limit: number): BodyCopy {
  let chunks: Uint8Array[] | undefined = limit > 0 ? [] : undefined
  let size = 0
  let complete = false
  return {
    add(chunk: Uint8Array): void {
      if (!chunks) return
      size += chunk.byteLength
      if (size > limit)
        chunks = undefined // over the bound: nothing is kept, the 401 goes back
      else {
        const kept = new Uint8Array(chunk.byteLength) // a copy: a Node Buffer's slice() would share memory
        kept.set(chunk)
        chunks.push(kept)
      }
    },
    end(): void {
      complete = true
    },
    bytes(): Uint8Array<ArrayBuffer> | undefined {
      if (!complete || !chunks) return undefined
      const all = new Uint8Array(size)
      let at = 0
      for (const chunk of chunks) {
        all.set(chunk, at)
        at += chunk.byteLength
      }
      return all
    },
    release(): void {
      chunks = undefined
    },
  }
}

/** A stream that sends what `source` sends and copies it into `copy`. */
export function copyingStream(
  source: ReadableStream<Uint8Array>,
  copy: BodyCopy,
): ReadableStream<Uint8Array> {
  return source.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        copy.add(chunk)
        controller.enqueue(chunk)
      },
      flush() {
        copy.end()
      },
    }),
  )
}

/** An async iterable that yields what `source` yields and copies it into `copy`. */
export async function* copyingIterable(
  source: AsyncIterable<Uint8Array | string>,
  copy: BodyCopy,
): AsyncGenerator<Uint8Array> {
  const encoder = new TextEncoder()
  for await (const part of source) {
    const chunk = typeof part === 'string' ? encoder.encode(part) : part
    copy.add(chunk)
    yield chunk
  }
  copy.end()
}

export function isAsyncIterable(value: unknown): value is AsyncIterable<Uint8Array | string> {
  return typeof (value as { [Symbol.asyncIterator]?: unknown } | null)?.[Symbol.asyncIterator] === 'function'
}
