export { type Challenge, parseWWWAuthenticate } from '../../core/challenges.js'
export { type OAuth2Credentials, type OAuth2Session, oauth2 } from './oauth2-protocol.js'
export type { ClientAssertionKey, ClientAuthMethod, OAuth2Options } from './options.js'
