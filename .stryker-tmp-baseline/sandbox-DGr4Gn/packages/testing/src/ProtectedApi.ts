/**
 * A protected API on loopback that accepts the token server's JWT access tokens, for testing
 * clients end to end.
 *
 * @since 0.1.0
 */
// @ts-nocheck

import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/protectedApi.js"
import type * as LoopbackServer from "./LoopbackServer.js"
import type { TokenServer } from "./TokenServer.js"

/**
 * What the API is started with; every field has a default.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The scope an access token must carry. Defaults to {@link defaultRequiredScope}. */
  readonly requiredScope?: string | undefined
  /** The `aud` an access token must carry. Defaults to the token server's resource. */
  readonly audience?: string | undefined
  /** How DPoP-bound tokens are checked; they are always checked, these options make it stricter. */
  readonly dpop?: DPoPOptions | undefined
  /**
   * Serve HTTPS with this certificate. With `clientCertificates`, the API asks for client
   * certificates, and accepts a certificate-bound token (`cnf.x5t#S256`, RFC 8705 §3) only on a
   * connection presenting that certificate; it always refuses one on a connection without it.
   *
   * @since 0.2.0
   */
  readonly tls?: LoopbackServer.Tls | undefined
  /**
   * The CA certificates (PEM) the API trusts when it fetches the token server's keys over HTTPS;
   * by default the system's.
   *
   * @since 0.2.0
   */
  readonly trustedAuthorities?: ReadonlyArray<string> | undefined
}

/**
 * The API verifies the proof of every DPoP-bound token (RFC 9449 §7) literally, as a strict resource
 * server does: signature by its `jwk`, `typ`, `htm`, `htu` equal to the request's target URI as sent
 * (no normalisation: `:443`, upper case or `..` are refused), `ath`, `iat` within the proof
 * lifetime, `jti` never seen before by this API, and the key's thumbprint against the token's
 * `cnf.jkt`. A bound token sent as a `Bearer` token is refused.
 *
 * @since 0.2.0
 * @category models
 */
export interface DPoPOptions {
  /**
   * Every proof must carry the API's current nonce (RFC 9449 §9): otherwise `401` with
   * `WWW-Authenticate: DPoP error="use_dpop_nonce"` and the nonce in `DPoP-Nonce`, which every answer
   * carries.
   */
  readonly requireNonce?: boolean | undefined
  /** How far a proof's `iat` may be from now. Defaults to {@link defaultProofLifetime}. */
  readonly proofLifetime?: Duration.DurationInput | undefined
}

/**
 * One request the API answered.
 *
 * @since 0.1.0
 * @category models
 */
export interface ApiRequest {
  readonly method: string
  readonly path: string
  /** Whether the request carried an `Authorization` header. */
  readonly authorization: boolean
  /**
   * The scheme of the `Authorization` header (`Bearer`, `DPoP`), present when there is one.
   *
   * @since 0.2.0
   */
  readonly scheme?: string | undefined
  readonly status: number
  /** The RFC 6750 error code the API answered with, such as `invalid_token`. */
  readonly error: string | undefined
}

/**
 * A claim of the access token, as `GET /test` returns it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Claim {
  readonly type: string
  readonly value: string
}

/**
 * The protected API.
 *
 * @since 0.1.0
 * @category tags
 */
export class ProtectedApi extends Context.Tag("@access-token/testing/ProtectedApi")<
  ProtectedApi,
  ProtectedApi.Service
>() {}

/**
 * @since 0.1.0
 */
export declare namespace ProtectedApi {
  /**
   * The running protected API.
   *
   * @since 0.1.0
   * @category models
   */
  export interface Service {
    /** Such as `http://127.0.0.1:PORT/`; `GET test` answers the claims of the access token. */
    readonly baseUrl: string
    /** The requests the API answered, oldest first. */
    readonly requests: Effect.Effect<ReadonlyArray<ApiRequest>>
    /** How many requests reached the API, answered or not yet. */
    readonly requestCount: Effect.Effect<number>
    /** From now on, every access token the API has accepted so far is refused with `invalid_token`. */
    readonly revokeAll: Effect.Effect<void>
    /**
     * Replaces the API's DPoP nonce: a proof with the previous one is answered with `use_dpop_nonce`
     * when nonces are required.
     *
     * @since 0.2.0
     */
    readonly rotateNonce: Effect.Effect<void>
    /**
     * The next `times` requests whose token (and DPoP proof) the API accepts are answered `503`:
     * their proofs count as used, so that a retry replaying one is refused.
     *
     * @since 0.2.0
     */
    readonly answerUnavailable: (times: number) => Effect.Effect<void>
  }
}

/**
 * The scope an access token must carry when the options name none.
 *
 * @since 0.1.0
 * @category defaults
 */
export const defaultRequiredScope: string = internal.defaultRequiredScope

/**
 * How far a DPoP proof's `iat` may be from the API's clock when the options name nothing.
 *
 * @since 0.2.0
 * @category defaults
 */
export const defaultProofLifetime: Duration.Duration = internal.defaultProofLifetime

/**
 * Starts the API on 127.0.0.1 beside the token server; closing the scope stops it and frees its port.
 *
 * @example
 * ```ts
 * import { ProtectedApi, TokenServer } from "@access-token/testing"
 * import { Effect } from "effect"
 *
 * const program = Effect.scoped(
 *   Effect.gen(function*() {
 *     const api = yield* ProtectedApi.make()
 *     // No token: 401, and the API records it.
 *     const response = yield* Effect.promise(() => fetch(new URL("test", api.baseUrl)))
 *     assert.strictEqual(response.status, 401)
 *     assert.strictEqual(yield* api.requestCount, 1)
 *   })
 * ).pipe(Effect.provide(TokenServer.layer()))
 *
 * Effect.runPromise(program)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options?: Options) => Effect.Effect<ProtectedApi.Service, never, Scope.Scope | TokenServer> =
  internal.make

/**
 * A protected API for the lifetime of the layer.
 *
 * @example
 * ```ts
 * import { ProtectedApi, TokenServer } from "@access-token/testing"
 * import { Layer } from "effect"
 *
 * const Servers = ProtectedApi.layer().pipe(Layer.provideMerge(TokenServer.layer()))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<ProtectedApi, never, TokenServer> =>
  Layer.scoped(ProtectedApi, make(options))
