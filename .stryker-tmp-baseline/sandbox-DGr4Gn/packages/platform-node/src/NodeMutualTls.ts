/**
 * The `MutualTls` transport of `@access-token/core` on Node.js: each client certificate gets an
 * undici `Agent` of its own, which presents it on every TLS connection, behind
 * `NodeHttpClient.makeUndici`. Token requests of a certificate-authenticated client go through it,
 * and so do the API calls the `@access-token/platform` middleware makes for that client, so that a
 * certificate-bound token always travels with its certificate.
 *
 * @since 0.2.0
 */
// @ts-nocheck

import * as LayerConfig from "@access-token/core/LayerConfig"
import * as MutualTls from "@access-token/core/MutualTls"
import { ClientConfigurationError, type UnknownClientError } from "@access-token/core/TokenError"
import * as TokenService from "@access-token/core/TokenService"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import Undici from "@effect/platform-node/Undici"
import * as HttpClient from "@effect/platform/HttpClient"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"

type Agent = InstanceType<typeof Undici.Agent>
type AgentOptions = NonNullable<ConstructorParameters<typeof Undici.Agent>[0]>

/**
 * How the transport trusts servers and opens its connections.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /**
   * The CA certificates (PEM) that servers' certificates must chain to, in place of Node.js's
   * default trust store: for an authorization server and APIs on a private PKI.
   */
  readonly certificateAuthorities?: ReadonlyArray<string> | undefined
  /** Options of each undici `Agent` (connections per origin, timeouts, ...); `connect` is set here. */
  readonly agentOptions?: Omit<AgentOptions, "connect"> | undefined
}

/**
 * An `HttpClient` presenting `certificate` on its TLS connections; its connections are closed with
 * the scope.
 *
 * @example
 * ```ts
 * import { MutualTls } from "@access-token/core"
 * import { NodeMutualTls } from "@access-token/platform-node"
 * import { Config, Effect } from "effect"
 *
 * // A client of your own presenting a certificate, for a call the token service does not make.
 * const program = Effect.gen(function*() {
 *   const certificate = yield* MutualTls.clientCertificate(
 *     { certificate: yield* Config.redacted("CERTIFICATE"), privateKey: yield* Config.redacted("PRIVATE_KEY") },
 *     "bank"
 *   )
 *   const client = yield* NodeMutualTls.httpClient(certificate)
 *   return yield* client.get("https://mtls.api.bank.example/accounts")
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const httpClient = (
  certificate: MutualTls.ClientCertificate,
  options?: Options
): Effect.Effect<HttpClient.HttpClient, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => agent(certificate, options)),
      (agent) => Effect.promise(() => agent.close())
    ),
    (agent) => MutualTls.presenting(NodeHttpClient.makeUndici(agent), certificate)
  )

const agent = (certificate: MutualTls.ClientCertificate, options: Options | undefined): Agent =>
  new Undici.Agent({
    ...options?.agentOptions,
    connect: {
      // Unwrapped only here, where they reach the TLS connection.
      cert: Redacted.value(certificate.certificate),
      key: Redacted.value(certificate.privateKey),
      ...(options?.certificateAuthorities === undefined ? {} : { ca: [...options.certificateAuthorities] })
    }
  })

/**
 * The transport: one agent per certificate (by thumbprint), made on first use, so a rotated
 * certificate gets new connections; every agent is closed with the scope.
 *
 * @example
 * ```ts
 * import { MutualTls } from "@access-token/core"
 * import { NodeMutualTls } from "@access-token/platform-node"
 * import { Effect, Layer } from "effect"
 *
 * // The transport as a service of its own scope, trusting a private CA.
 * const Transport = Layer.scoped(
 *   MutualTls.MutualTls,
 *   NodeMutualTls.make({ certificateAuthorities: ["-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----"] })
 * )
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (options?: Options): Effect.Effect<MutualTls.MutualTls.Service, never, Scope.Scope> =>
  Effect.gen(function*() {
    const clients = new Map<string, { readonly agent: Agent; readonly client: HttpClient.HttpClient }>()
    yield* Effect.addFinalizer(() =>
      Effect.promise(() => Promise.all([...clients.values()].map(({ agent }) => agent.close()))).pipe(
        Effect.ensuring(Effect.sync(() => clients.clear()))
      )
    )
    return MutualTls.MutualTls.of({
      httpClient: (certificate) => {
        const known = clients.get(certificate.thumbprint)
        if (known !== undefined) return known.client
        const created = agent(certificate, options)
        const client = MutualTls.presenting(NodeHttpClient.makeUndici(created), certificate)
        clients.set(certificate.thumbprint, { agent: created, client })
        return client
      }
    })
  })

/**
 * The transport for the lifetime of the layer.
 *
 * @example
 * ```ts
 * import { TokenService } from "@access-token/core"
 * import { NodeMutualTls } from "@access-token/platform-node"
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Config, Effect, Layer } from "effect"
 *
 * // A client that authenticates with its certificate (tls_client_auth), on a private PKI.
 * const Tokens = Layer.unwrapEffect(
 *   Effect.gen(function*() {
 *     const certificate = yield* Config.redacted("BANK_CERTIFICATE")
 *     const privateKey = yield* Config.redacted("BANK_PRIVATE_KEY")
 *     const authority = yield* Config.string("BANK_CA_CERTIFICATE")
 *     return TokenService.layerDefault({
 *       clients: {
 *         bank: {
 *           tokenEndpoint: "https://mtls.auth.bank.example/token",
 *           clientId: "worker-7",
 *           authentication: { method: "tls_client_auth", certificate, privateKey }
 *         }
 *       }
 *     }).pipe(Layer.provide([NodeMutualTls.layer({ certificateAuthorities: [authority] }), NodeHttpClient.layerUndici]))
 *   })
 * )
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<MutualTls.MutualTls> =>
  Layer.scoped(MutualTls.MutualTls, make(options))

/**
 * The `HttpClient` for the API calls of `client` (a registered name; may be omitted when exactly one
 * client is registered), which authenticates with a certificate: the transport presenting that
 * certificate, so that its certificate-bound tokens are accepted (RFC 8705 §3). Put the
 * `@access-token/platform` middleware on top of it. A client without a certificate fails with
 * `ClientConfigurationError`.
 *
 * @example
 * ```ts
 * import { NodeMutualTls } from "@access-token/platform-node"
 * import { AccessTokenHttpClient } from "@access-token/platform"
 * import { Effect } from "effect"
 *
 * // The API calls of "bank" over its certificate, with its certificate-bound tokens.
 * const listAccounts = Effect.gen(function*() {
 *   const client = (yield* NodeMutualTls.httpClientOf("bank")).pipe(AccessTokenHttpClient.withAccessToken("bank"))
 *   return yield* client.get("https://mtls.api.bank.example/accounts")
 * })
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const httpClientOf = (
  client?: string
): Effect.Effect<
  HttpClient.HttpClient,
  ClientConfigurationError | UnknownClientError,
  TokenService.TokenService | MutualTls.MutualTls
> =>
  Effect.gen(function*() {
    const definition = yield* Effect.flatMap(TokenService.TokenService, (tokens) => tokens.client(client))
    const certificate = MutualTls.certificateOf(definition)
    if (certificate === undefined) {
      return yield* new ClientConfigurationError({
        client: definition.name,
        field: "authentication",
        reason: "is not tls_client_auth or self_signed_tls_client_auth: the client has no certificate to present"
      })
    }
    return (yield* MutualTls.MutualTls).httpClient(certificate)
  })

/**
 * Provides {@link httpClientOf} as the `HttpClient`, for `AccessTokenHttpClient.layer` on top.
 *
 * @example
 * ```ts
 * import { ClientCredentialsClient, TokenService } from "@access-token/core"
 * import { AccessTokenHttpClient } from "@access-token/platform"
 * import { NodeMutualTls } from "@access-token/platform-node"
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Layer } from "effect"
 *
 * // BANK_TOKEN_ENDPOINT, BANK_CLIENT_ID, BANK_TOKEN_ENDPOINT_AUTH_METHOD=tls_client_auth, BANK_CERTIFICATE, BANK_PRIVATE_KEY
 * const Tokens = TokenService.layerConfigDefault({ clients: { bank: ClientCredentialsClient.config("BANK") } }).pipe(
 *   Layer.provide([NodeMutualTls.layerConfig(), NodeHttpClient.layerUndici])
 * )
 *
 * // The program's HttpClient: certificate-bound tokens, sent over the certificate they are bound to.
 * const Api = AccessTokenHttpClient.layer({ client: "bank", baseUrl: "https://mtls.api.bank.example/" }).pipe(
 *   Layer.provide(NodeMutualTls.layerHttpClient("bank")),
 *   Layer.provide([Tokens, NodeMutualTls.layerConfig()])
 * )
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerHttpClient = (
  client?: string
): Layer.Layer<
  HttpClient.HttpClient,
  ClientConfigurationError | UnknownClientError,
  TokenService.TokenService | MutualTls.MutualTls
> => Layer.effect(HttpClient.HttpClient, httpClientOf(client))

/**
 * Reads `ACCESS_TOKEN_TLS_CA_CERTIFICATES` (optional: PEM, one or more certificates), the
 * authorities that servers' certificates must chain to in place of Node.js's default trust store.
 *
 * @example
 * ```ts
 * import { NodeMutualTls } from "@access-token/platform-node"
 * import { ConfigProvider, Effect } from "effect"
 *
 * const options = Effect.runSync(
 *   Effect.withConfigProvider(NodeMutualTls.config, ConfigProvider.fromMap(new Map()))
 * )
 * // Unset: Node.js's default trust store.
 * assert.strictEqual(options.certificateAuthorities, undefined)
 * ```
 *
 * @since 0.2.0
 * @category config
 */
export const config: Config.Config<Options> = Config.map(
  Config.option(Config.string("ACCESS_TOKEN_TLS_CA_CERTIFICATES")),
  (authorities): Options => ({
    certificateAuthorities: Option.getOrUndefined(Option.map(authorities, (pem) => [pem]))
  })
)

/**
 * The transport with its options read from configuration, by default {@link config}.
 *
 * @example
 * ```ts
 * import { NodeMutualTls } from "@access-token/platform-node"
 * import { Config } from "effect"
 *
 * // ACCESS_TOKEN_TLS_CA_CERTIFICATES from the environment...
 * const Transport = NodeMutualTls.layerConfig()
 * // ...or from a name of your own.
 * const Custom = NodeMutualTls.layerConfig({ certificateAuthorities: Config.array(Config.string("BANK_CA")) })
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerConfig = (
  options: LayerConfig.Wrap<Options> = config
): Layer.Layer<MutualTls.MutualTls, ConfigError.ConfigError> =>
  Layer.scoped(MutualTls.MutualTls, Effect.flatMap(LayerConfig.unwrap(options), make))
