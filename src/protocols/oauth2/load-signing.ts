// jose's signing code (signing.ts) stays out of the entry bundle: only client assertions and DPoP proofs need it.

type Signing = typeof import('./signing.js')

let loading: Promise<Signing> | undefined

/** The signing module, loaded on first use (and once more if that load failed). */
export function loadSigning(): Promise<Signing> {
  loading ??= import('./signing.js').catch((error: unknown) => {
    loading = undefined
    throw error
  })
  return loading
}
