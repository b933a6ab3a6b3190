/**
 * DPoP nonces (RFC 9449 §8, §9): what each server asked proofs to carry, by origin, and how a
 * resource server asks for one.
 *
 * @internal
 */

/** RFC 9449 §8.1: `nonce = 1*NQCHAR`. Anything else a server sends is ignored. */
const nonceSyntax = /^[\x21\x23-\x5B\x5D-\x7E]+$/

/** The longest nonce kept: a server is free to send more, but not to make the store hold it. */
const maxNonceLength = 1024

const originPattern = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/

/**
 * The origin of an absolute URL without parsing it; `undefined` for anything else.
 *
 * @internal
 */
export const originOf = (url: string): string | undefined => {
  const match = originPattern.exec(url)
  return match === null ? undefined : match[0].toLowerCase()
}

/**
 * The nonces servers gave, by origin, least recently used evicted first (as oauth4webapi keeps
 * them).
 *
 * @internal
 */
export class NonceStore {
  private readonly nonces = new Map<string, string>()
  constructor(readonly capacity: number) {}

  get(url: string): string | undefined {
    const origin = originOf(url)
    return origin === undefined ? undefined : this.nonces.get(origin)
  }

  /** Remembers the `DPoP-Nonce` of a response, if it has a valid one; true when it is new. */
  update(url: string, header: string | undefined): boolean {
    if (header === undefined) return false
    const nonce = header.trim()
    // An empty nonce fails the syntax, which wants one character or more.
    if (nonce.length > maxNonceLength || !nonceSyntax.test(nonce)) return false
    const origin = originOf(url)
    if (origin === undefined) return false
    const previous = this.nonces.get(origin)
    this.nonces.delete(origin)
    this.nonces.set(origin, nonce)
    if (this.nonces.size > this.capacity) this.nonces.delete(this.nonces.keys().next().value!)
    return previous !== nonce
  }

  get size(): number {
    return this.nonces.size
  }
}

/**
 * Whether a resource server's `401` asks for a nonce (RFC 9449 §9): a challenge with
 * `error="use_dpop_nonce"`. Servers seen in the wild put it under the `Bearer` scheme, so the
 * scheme is not checked.
 *
 * @internal
 */
export const isNonceChallenge = (status: number, wwwAuthenticate: string | undefined): boolean =>
  status === 401 &&
  // Stryker disable next-line ConditionalExpression: the test of undefined reads "undefined", which is no challenge
  wwwAuthenticate !== undefined &&
  /(?:^|[\s,])error\s*=\s*"?use_dpop_nonce"?(?:[\s,]|$)/i.test(wwwAuthenticate)
