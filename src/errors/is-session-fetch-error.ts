import type { ClosedError } from './closed-error.js'
import type { InvalidResponseError } from './invalid-response-error.js'
import type { LoginError } from './login-error.js'
import type { LogoutError } from './logout-error.js'
import type { OptionError } from './option-error.js'
import type { RedirectError } from './redirect-error.js'
import type { RefreshError } from './refresh-error.js'
import type { ResponseError } from './response-error.js'
import type { SessionExpiredError } from './session-expired-error.js'
import { BRAND } from './session-fetch-error.js'
import type { SessionRejectedError } from './session-rejected-error.js'
import type { StoreError } from './store-error.js'

/**
 * Every error class this package throws. Each `code` belongs to exactly one class, so a `switch (error.code)` on
 * an `AnySessionFetchError` narrows to the class and its properties (`status`, `option`, …).
 *
 * @example
 * if (isSessionFetchError(error)) {
 *   switch (error.code) {
 *     case 'login_failed': console.warn(error.status); break // a LoginError
 *     case 'invalid_option': console.warn(error.option); break // an OptionError
 *   }
 * }
 */
export type AnySessionFetchError =
  | ClosedError
  | InvalidResponseError
  | LoginError
  | LogoutError
  | OptionError
  | RedirectError
  | RefreshError
  | ResponseError
  | SessionExpiredError
  | SessionRejectedError
  | StoreError

/**
 * True for any error thrown by session-fetch, across realms and bundled copies; false for every other error,
 * however it is shaped (an AxiosError also has a string `code` and a `toJSON`). It narrows to
 * {@link AnySessionFetchError}, so a `switch` on `code` narrows further.
 */
export function isSessionFetchError(error: unknown): error is AnySessionFetchError {
  return typeof error === 'object' && error !== null && (error as { [BRAND]?: unknown })[BRAND] === true
}
