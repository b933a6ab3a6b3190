/**
 * DPoP nonces (RFC 9449 §8, §9): the values servers hand out in `DPoP-Nonce` for the next proofs
 * to carry, kept per origin, and how a resource server asks for one.
 *
 * The token endpoint client and the `@access-token/platform` middleware keep their own; a store
 * of your own is for code that signs proofs itself with `DPoP.proof`.
 *
 * @since 0.2.0
 */
// @ts-nocheck

import * as Effect from "effect/Effect"
import * as internal from "./internal/dpopNonce.js"

/**
 * The nonces servers handed out, by origin: each response's `DPoP-Nonce` replaces the one kept
 * for its origin, and the next proof to that origin carries it.
 *
 * @since 0.2.0
 * @category models
 */
export interface Nonces {
  /** The nonce to put in a proof for `url`, if its origin gave one. */
  readonly get: (url: string) => Effect.Effect<string | undefined>
  /** Remembers the `DPoP-Nonce` header sent by `url`'s origin; true when it changed. */
  readonly update: (url: string, header: string | undefined) => Effect.Effect<boolean>
}

/**
 * How many origins' nonces are kept before the least recently used is dropped.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultCapacity = 100

/**
 * A nonce store of its own, for code that signs proofs itself.
 *
 * @example
 * ```ts
 * import { DPoPNonce } from "@access-token/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const nonces = yield* DPoPNonce.make()
 *   yield* nonces.update("https://api.example.com/invoices", "eyJ7S_zG.eyJH0-Z.HX4w-7v")
 *   // Kept per origin: any path of that origin gets it.
 *   assert.strictEqual(yield* nonces.get("https://api.example.com/reports"), "eyJ7S_zG.eyJH0-Z.HX4w-7v")
 *   assert.strictEqual(yield* nonces.get("https://auth.example.com/token"), undefined)
 * })
 *
 * Effect.runPromise(program)
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (capacity: number = defaultCapacity): Effect.Effect<Nonces> =>
  Effect.sync(() => unsafeMake(capacity))

/**
 * A nonce store made outside an effect, for a client built synchronously (as a middleware is).
 *
 * @example
 * ```ts
 * import { DPoPNonce } from "@access-token/core"
 * import { Effect } from "effect"
 *
 * // One store for the life of a client built outside an effect.
 * const nonces = DPoPNonce.unsafeMake(10)
 * Effect.runSync(nonces.update("https://api.example.com/a", "n-1"))
 * assert.strictEqual(Effect.runSync(nonces.get("https://api.example.com/b")), "n-1")
 * ```
 *
 * @since 0.2.0
 * @category unsafe
 */
export const unsafeMake = (capacity: number = defaultCapacity): Nonces => {
  const store = new internal.NonceStore(Math.max(1, capacity))
  return {
    get: (url) => Effect.sync(() => store.get(url)),
    update: (url, header) => Effect.sync(() => store.update(url, header))
  }
}

/**
 * Whether a resource server's response asks for a proof with a nonce (RFC 9449 §9): a `401` whose
 * `WWW-Authenticate` has `error="use_dpop_nonce"`, under the `DPoP` scheme or, as some servers
 * send it, `Bearer`.
 *
 * @example
 * ```ts
 * import { DPoPNonce } from "@access-token/core"
 *
 * assert.ok(DPoPNonce.isChallenge({
 *   status: 401,
 *   headers: { "www-authenticate": 'DPoP error="use_dpop_nonce", error_description="Resource server requires nonce"' }
 * }))
 * assert.ok(!DPoPNonce.isChallenge({ status: 401, headers: { "www-authenticate": 'DPoP error="invalid_token"' } }))
 * ```
 *
 * @since 0.2.0
 * @category predicates
 */
export const isChallenge = (
  response: { readonly status: number; readonly headers: Readonly<Record<string, string | undefined>> }
): boolean => internal.isNonceChallenge(response.status, response.headers["www-authenticate"])
