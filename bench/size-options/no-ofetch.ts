// Size-estimate sketch only (bench/size.ts swaps it in for ofetch): nothing of ofetch left, which bounds what
// dropping it would save (a fetch call with a small retry loop would add back a few hundred bytes).
export class FetchError extends Error {
  response: Response | undefined
  data: unknown
}

export function createFetch(_options: unknown): never {
  throw new FetchError('ofetch removed for a size estimate')
}
