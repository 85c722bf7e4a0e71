import { lazy } from '../../core/lazy.js'

// jose's signing code (signing.ts) stays out of the entry bundle: only client assertions and DPoP proofs need it.

/** The signing module, loaded on first use (and once more if that load failed). */
export const loadSigning = lazy(() => import('./signing.js'))
