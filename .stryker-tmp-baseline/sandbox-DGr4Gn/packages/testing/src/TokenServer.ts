/**
 * A real OAuth 2.0 authorization server on loopback, built on oidc-provider, that issues JWT
 * access tokens with the client credentials grant.
 *
 * @since 0.1.0
 */
// @ts-nocheck

import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/tokenServer.js"
import type * as LoopbackServer from "./LoopbackServer.js"

/**
 * How a registered client authenticates at the token endpoint (RFC 6749 §2.3.1).
 *
 * @since 0.1.0
 * @category models
 */
export type TokenEndpointAuthMethod =
  | "client_secret_basic"
  | "client_secret_post"
  | "tls_client_auth"
  | "self_signed_tls_client_auth"
  | "client_secret_jwt"
  | "private_key_jwt"

/**
 * A client registered at the server, as passed in the options.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientOptions {
  readonly clientId: string
  /** For the secret methods; a random one when absent. */
  readonly clientSecret?: string | Redacted.Redacted<string> | undefined
  /** Defaults to `"client_secret_basic"`. */
  readonly tokenEndpointAuthMethod?: TokenEndpointAuthMethod | undefined
  /** The scopes the client may request. Defaults to every scope of the server. */
  readonly scopes?: ReadonlyArray<string> | undefined
  /**
   * The client's certificate, PEM, for the certificate methods (RFC 8705 §2): `tls_client_auth`
   * registers its subject DN (`tls_client_auth_subject_dn`), `self_signed_tls_client_auth` the
   * certificate itself (in the client's JWKS, `x5c`). Its access tokens are bound to it.
   *
   * @since 0.2.0
   */
  readonly certificate?: string | undefined
  /**
   * The client's public keys, for `private_key_jwt` (its JWKS, RFC 7591 §2).
   *
   * @since 0.2.0
   */
  readonly jwks?: { readonly keys: ReadonlyArray<JsonWebKey> } | undefined
  /**
   * The one algorithm the client's assertions may be signed with (`token_endpoint_auth_signing_alg`);
   * any the server supports by default.
   *
   * @since 0.2.0
   */
  readonly tokenEndpointAuthSigningAlg?: string | undefined
}

/**
 * A client registered at the server.
 *
 * @since 0.1.0
 * @category models
 */
export interface Client {
  readonly clientId: string
  readonly clientSecret: Redacted.Redacted<string>
  readonly tokenEndpointAuthMethod: TokenEndpointAuthMethod
  readonly scopes: ReadonlyArray<string>
  /** @since 0.2.0 */
  readonly certificate: string | undefined
  /** @since 0.2.0 */
  readonly jwks: { readonly keys: ReadonlyArray<JsonWebKey> } | undefined
  /** @since 0.2.0 */
  readonly tokenEndpointAuthSigningAlg: string | undefined
}

/**
 * What the server is started with; every field has a default.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Defaults to {@link defaultClient}. */
  readonly clients?: ReadonlyArray<ClientOptions> | undefined
  /** The resource indicator (RFC 8707) of the protected API, the `aud` of every access token. */
  readonly resource?: string | undefined
  /** The scopes of the resource. Any other requested scope is refused with `invalid_scope`. */
  readonly scopes?: ReadonlyArray<string> | undefined
  /** Rounded up to whole seconds, at least one. */
  readonly accessTokenLifetime?: Duration.DurationInput | undefined
  /**
   * A path for the issuer, such as `/tenants/acme`: the issuer is then
   * `http://127.0.0.1:PORT/tenants/acme`, every endpoint is under it, and its metadata is at both
   * well-known locations (`/.well-known/oauth-authorization-server/tenants/acme` and
   * `/tenants/acme/.well-known/openid-configuration`). Defaults to none.
   *
   * @since 0.2.0
   */
  readonly issuerPath?: string | undefined
  /** DPoP (RFC 9449) beyond oidc-provider's default, which binds a token when a proof is sent. */
  readonly dpop?: DPoPOptions | undefined
  /**
   * Serve HTTPS with this certificate: the issuer is then `https://127.0.0.1:PORT`. With
   * `clientCertificates`, the server asks for client certificates (mutual TLS, RFC 8705): clients
   * may authenticate with `tls_client_auth` (a certificate issued by one of the `authorities`) or
   * `self_signed_tls_client_auth`, and their access tokens are bound to the certificate
   * (`cnf.x5t#S256`).
   *
   * @since 0.2.0
   */
  readonly tls?: LoopbackServer.Tls | undefined
  /**
   * Ask for client certificates on a second port only, announced in the metadata's
   * `mtls_endpoint_aliases` (RFC 8705 §5), as servers that keep mutual TLS off their main host do.
   * Needs `tls.clientCertificates`.
   *
   * @since 0.2.0
   */
  readonly mtlsEndpointAliases?: boolean | undefined
  /**
   * Accept a client assertion (`private_key_jwt`, `client_secret_jwt`) only when its `aud` is
   * exactly the issuer identifier, as one string: the rule of OpenID Connect Core errata and
   * draft-ietf-oauth-rfc7523bis. By default oidc-provider also accepts the token endpoint URL, and
   * an array containing either.
   *
   * @since 0.2.0
   */
  readonly strictAssertionAudience?: boolean | undefined
}

/**
 * How strictly the token endpoint asks for DPoP.
 *
 * @since 0.2.0
 * @category models
 */
export interface DPoPOptions {
  /** Every client must send a proof (`dpop_bound_access_tokens`); a request without one is refused. */
  readonly required?: boolean | undefined
  /** Every proof must carry a nonce of the server's: a proof without one gets `use_dpop_nonce`. */
  readonly requireNonce?: boolean | undefined
}

/**
 * One request the token endpoint answered.
 *
 * @since 0.1.0
 * @category models
 */
export interface TokenRequest {
  readonly clientId: string | undefined
  /** How the client authenticated on the wire, whatever method it is registered with. */
  readonly clientAuthMethod: TokenEndpointAuthMethod | "client_secret_jwt" | "private_key_jwt" | "none"
  readonly grantType: string | undefined
  /** The `scope` parameter as sent. */
  readonly requestedScope: string | undefined
  readonly outcome: "success" | "error"
  readonly status: number
  /** The scope of the issued access token. */
  readonly scope: string | undefined
  /** The audience of the issued access token. */
  readonly resource: string | undefined
  /** The OAuth 2.0 error code of a refused request, such as `invalid_client`. */
  readonly error: string | undefined
  /**
   * Present only when the request carried a DPoP proof; `jkt` is the key thumbprint the issued token
   * is bound to (its `cnf.jkt`), absent when no token was issued.
   *
   * @since 0.2.0
   */
  readonly dpop?: { readonly jkt: string | undefined } | undefined
}

/**
 * The token server.
 *
 * @since 0.1.0
 * @category tags
 */
export class TokenServer extends Context.Tag("@access-token/testing/TokenServer")<
  TokenServer,
  TokenServer.Service
>() {}

/**
 * @since 0.1.0
 */
export declare namespace TokenServer {
  /**
   * The running token server.
   *
   * @since 0.1.0
   * @category models
   */
  export interface Service {
    /** The issuer identifier, such as `http://127.0.0.1:PORT`, the `iss` of every access token. */
    readonly issuer: string
    readonly tokenEndpoint: string
    readonly jwksUri: string
    /**
     * The token endpoint's mutual TLS alias with `mtlsEndpointAliases`, as the metadata announces it.
     *
     * @since 0.2.0
     */
    readonly mtlsTokenEndpoint: string | undefined
    readonly resource: string
    readonly scopes: ReadonlyArray<string>
    readonly clients: ReadonlyArray<Client>
    /** The requests the token endpoint answered, oldest first. */
    readonly tokenRequests: Effect.Effect<ReadonlyArray<TokenRequest>>
    /** How many requests reached the token endpoint, successful or not. */
    readonly tokenRequestCount: Effect.Effect<number>
    /**
     * How many requests reached either well-known metadata location (RFC 8414 or OpenID Connect
     * Discovery), answered or not.
     *
     * @since 0.2.0
     */
    readonly metadataRequestCount: Effect.Effect<number>
    /**
     * Takes both metadata documents down (each answers `503`) or brings them back; the other
     * endpoints keep working.
     *
     * @since 0.2.0
     */
    readonly setMetadataAvailable: (available: boolean) => Effect.Effect<void>
    /**
     * Changes the secret of a registered client, as a rotation at the authorization server does:
     * from then on the old secret is refused with `invalid_client`. `clients` keeps the secret the
     * server started with.
     *
     * @since 0.2.0
     */
    readonly setClientSecret: (clientId: string, secret: Redacted.Redacted<string>) => Effect.Effect<void>
  }
}

/**
 * The client registered when the options name none.
 *
 * @since 0.1.0
 * @category defaults
 */
export const defaultClient: ClientOptions = internal.defaultClient

/**
 * The resource indicator used when the options name none.
 *
 * @since 0.1.0
 * @category defaults
 */
export const defaultResource: string = internal.defaultResource

/**
 * The scopes of the resource when the options name none.
 *
 * @since 0.1.0
 * @category defaults
 */
export const defaultScopes: ReadonlyArray<string> = internal.defaultScopes

/**
 * The access token lifetime when the options name none.
 *
 * @since 0.1.0
 * @category defaults
 */
export const defaultAccessTokenLifetime: Duration.Duration = internal.defaultAccessTokenLifetime

/**
 * Starts a token server on 127.0.0.1; closing the scope stops it and frees its port.
 *
 * @example
 * ```ts
 * import { TokenServer } from "@access-token/testing"
 * import { Effect, Redacted } from "effect"
 *
 * // Starts a server, asks it for a token as any client would, and stops it with the scope.
 * const program = Effect.scoped(
 *   Effect.gen(function*() {
 *     const server = yield* TokenServer.make({ clients: [{ clientId: "worker", clientSecret: "s3cret" }] })
 *     const response = yield* Effect.promise(() =>
 *       fetch(server.tokenEndpoint, {
 *         method: "POST",
 *         headers: { authorization: `Basic ${btoa("worker:s3cret")}`, "content-type": "application/x-www-form-urlencoded" },
 *         body: "grant_type=client_credentials&scope=api"
 *       })
 *     )
 *     assert.strictEqual(response.status, 200)
 *     assert.strictEqual(yield* server.tokenRequestCount, 1)
 *     assert.strictEqual(Redacted.value(server.clients[0].clientSecret), "s3cret")
 *   })
 * )
 *
 * Effect.runPromise(program)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options?: Options) => Effect.Effect<TokenServer.Service, never, Scope.Scope> = internal.make

/**
 * A token server for the lifetime of the layer.
 *
 * @example
 * ```ts
 * import { ProtectedApi, TokenServer } from "@access-token/testing"
 * import { Layer } from "effect"
 *
 * // For @effect/vitest's `layer(Servers)(...)` or `Effect.provide(Servers)`: short-lived tokens, two scopes.
 * const Servers = ProtectedApi.layer({ requiredScope: "read" }).pipe(
 *   Layer.provideMerge(TokenServer.layer({ scopes: ["read", "write"], accessTokenLifetime: "30 seconds" }))
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<TokenServer> => Layer.scoped(TokenServer, make(options))
