import { describe } from '../core/validate.js'
import { OptionError } from '../errors/option-error.js'

/**
 * Check the `encryptionKey` option of the Redis and file stores: absent, or 32 bytes for A256GCM. Answers a copy, so
 * a caller reusing its buffer cannot change the key under a running store. A key given as a string
 * (`process.env.KEY`) is never echoed: it is the key.
 */
export function parseEncryptionKey(value: unknown): Uint8Array | undefined {
  if (value === undefined) return undefined
  if (!(value instanceof Uint8Array) || value.length !== 32) {
    throw new OptionError(
      'encryptionKey',
      value instanceof Uint8Array
        ? `expected 32 bytes for A256GCM, got ${value.length}`
        : `expected 32 bytes (a Uint8Array or Buffer), got ${describe(value, false)}`,
    )
  }
  return new Uint8Array(value)
}
