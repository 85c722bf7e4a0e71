import { CliError, EXIT } from './exit.js'

const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/
const HEX = /^[0-9a-fA-F]{64}$/
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/

/**
 * The key `--encryption-key-env NAME` names: 32 bytes, written in the variable as 64 hex digits or in base64
 * (standard or URL-safe), the forms a program passes to `fileStore({ encryptionKey })` as
 * `Buffer.from(value, 'hex' | 'base64')`. No error ever repeats the variable's value: it is the key.
 */
export function keyFromEnv(name: string, env: NodeJS.ProcessEnv, from = '--encryption-key-env'): Uint8Array {
  if (!NAME.test(name)) {
    throw new CliError(
      `${from}: expected the name of an environment variable (letters, digits and "_"), got ${JSON.stringify(name.slice(0, 40))}`,
      EXIT.usage,
    )
  }
  const value = env[name]?.trim()
  if (!value) throw new CliError(`${from}: the environment variable ${name} is not set`, EXIT.usage)
  const bytes = HEX.test(value)
    ? Buffer.from(value, 'hex')
    : BASE64.test(value)
      ? Buffer.from(value.replace(/-/g, '+').replace(/_/g, '/'), 'base64')
      : undefined
  if (bytes?.length !== 32) {
    const got = bytes ? `${bytes.length} bytes` : 'neither hex nor base64'
    throw new CliError(
      `${from}: ${name} must hold a 32-byte key, as 64 hex digits or in base64 (it holds ${got})`,
      EXIT.usage,
    )
  }
  return new Uint8Array(bytes)
}
