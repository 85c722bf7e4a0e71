// Size-estimate sketch only (bench/size.ts swaps it in for p-queue): what the core uses of p-queue, namely
// one-at-a-time `add`, `size` and `pending`, as a promise chain. Not used by the package.
export default class PromiseQueue {
  size = 0
  pending = 0
  #tail: Promise<unknown> = Promise.resolve()

  // biome-ignore lint/complexity/noUselessConstructor: it keeps p-queue's signature, `new PQueue({ concurrency })`
  constructor(_options?: { concurrency?: number }) {}

  add<T>(task: () => Promise<T>): Promise<T> {
    this.size++
    const run = this.#tail.then(() => {
      this.size--
      this.pending++
      return task()
    })
    const settled = run.then(
      () => {
        this.pending--
      },
      () => {
        this.pending--
      },
    )
    this.#tail = settled
    return run
  }
}
