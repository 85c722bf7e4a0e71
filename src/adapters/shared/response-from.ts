/** A bodiless fetch Response with an answer's status and headers, for a custom `isUnauthorized`. */
export function responseFrom(
  status: number,
  statusText: string | undefined,
  headers: Iterable<[string, string | readonly string[] | undefined]>,
): Response {
  const copy = new Headers()
  for (const [name, value] of headers) {
    try {
      if (typeof value === 'string') copy.append(name, value)
      else if (value !== undefined) for (const item of value) copy.append(name, item)
    } catch {
      // A header a fetch Headers cannot hold (odd characters) is no reason to fail the request.
    }
  }
  return new Response(null, { status, statusText: statusText ?? '', headers: copy })
}
