/**
 * Mutual TLS end to end (RFC 8705): the core, the middleware and the Node.js transport against
 * oidc-provider and the protected API over TLS, with certificates the tests make themselves.
 */
// @ts-nocheck

import {
  ClientCredentialsClient,
  MutualTls,
  TokenCache,
  TokenEndpointClient,
  TokenError,
  TokenService
} from "@access-token/core"
import { AccessTokenHttpClient } from "@access-token/platform"
import { NodeMutualTls } from "@access-token/platform-node"
import { ProtectedApi, SpanRecorder, TestCertificates, TokenServer } from "@access-token/testing"
import { HttpClient } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import Undici from "@effect/platform-node/Undici"
import { assert, describe, it } from "@effect/vitest"
import {
  Cause,
  ConfigProvider,
  Context,
  Effect,
  Exit,
  Inspectable,
  Layer,
  Logger,
  LogLevel,
  Redacted,
  Tracer
} from "effect"
import type { Option, Scope } from "effect"
import * as Jose from "jose"

const setup = (options?: { readonly mtlsEndpointAliases?: boolean }) =>
  Effect.gen(function*() {
    const authority = yield* TestCertificates.authority()
    const worker = yield* TestCertificates.client(authority, "worker")
    const rotated = yield* TestCertificates.client(authority, "worker")
    const selfSigned = yield* TestCertificates.selfSigned("self-signed-worker")
    const tls = {
      ...(yield* TestCertificates.server(authority)),
      clientCertificates: { authorities: [authority.certificate] }
    }
    const tokenServer = yield* TokenServer.make({
      tls,
      mtlsEndpointAliases: options?.mtlsEndpointAliases,
      clients: [
        { clientId: "pki", tokenEndpointAuthMethod: "tls_client_auth", certificate: worker.certificate },
        {
          clientId: "self-signed",
          tokenEndpointAuthMethod: "self_signed_tls_client_auth",
          certificate: selfSigned.certificate
        }
      ]
    })
    const api = yield* ProtectedApi.make({ tls, trustedAuthorities: [authority.certificate] }).pipe(
      Effect.provideService(TokenServer.TokenServer, tokenServer)
    )
    // Trusts the test authority only; presents no certificate.
    const plain = yield* Effect.acquireRelease(
      Effect.sync(() => new Undici.Agent({ connect: { ca: authority.certificate } })),
      (agent) => Effect.promise(() => agent.close())
    )
    return {
      authority,
      worker,
      rotated,
      selfSigned,
      tokenServer,
      api,
      transport: NodeMutualTls.layer({ certificateAuthorities: [authority.certificate] }),
      plainHttpClient: Layer.succeed(HttpClient.HttpClient, NodeHttpClient.makeUndici(plain))
    }
  })

type Setup = Effect.Effect.Success<ReturnType<typeof setup>>

/** A client authenticating with `certificate` by `method`. */
const certificateClient = (
  { tokenServer }: Setup,
  clientId: string,
  method: "tls_client_auth" | "self_signed_tls_client_auth",
  certificate: TestCertificates.Certificate
): ClientCredentialsClient.Input => ({
  tokenEndpoint: tokenServer.tokenEndpoint,
  clientId,
  scope: "api",
  authentication: {
    method,
    certificate: Redacted.make(certificate.certificate),
    privateKey: certificate.privateKey
  }
})

/** A token service on `layers`, built in the test's scope. */
const tokenService = <E>(
  options: TokenService.Options,
  layers: Layer.Layer<HttpClient.HttpClient | MutualTls.MutualTls | TokenCache.TokenCache, E>
): Effect.Effect<TokenService.TokenService.Service, unknown, Scope.Scope> =>
  Effect.map(
    Layer.build(TokenService.layer(options).pipe(Layer.provide(TokenEndpointClient.layer()), Layer.provide(layers))),
    Context.get(TokenService.TokenService)
  )

const thumbprintOf = (token: Redacted.Redacted<string>) =>
  (Jose.decodeJwt(Redacted.value(token)).cnf as Record<string, unknown> | undefined)?.["x5t#S256"]

/** A private key as configured (PEM), and a piece of its base64 body, found however it is re-wrapped. */
const keyMaterial = (certificate: TestCertificates.Certificate) => {
  const pem = Redacted.value(certificate.privateKey)
  return [pem, pem.replace(/-----[A-Z ]+-----|\s+/g, "").slice(64, 128)]
}

/** A span that writes its name, attributes, events and outcome to `seen` as they come. */
class SeenSpan implements Tracer.Span {
  readonly _tag = "Span"
  readonly spanId = Math.random().toString(16).slice(2)
  readonly traceId = "trace"
  readonly sampled = true
  readonly links: Array<Tracer.SpanLink> = []
  readonly attributes = new Map<string, unknown>()
  status: Tracer.SpanStatus

  constructor(
    readonly seen: Array<string>,
    readonly name: string,
    readonly parent: Option.Option<Tracer.AnySpan>,
    readonly context: Context.Context<never>,
    startTime: bigint,
    readonly kind: Tracer.SpanKind
  ) {
    this.status = { _tag: "Started", startTime }
    seen.push(name)
  }

  end(endTime: bigint, exit: Exit.Exit<unknown, unknown>) {
    this.status = { _tag: "Ended", startTime: this.status.startTime, endTime, exit }
    this.seen.push(`${this.name} ${Inspectable.format(exit)}`)
    if (Exit.isFailure(exit)) this.seen.push(Cause.pretty(exit.cause, { renderErrorCause: true }))
  }

  attribute(key: string, value: unknown) {
    this.attributes.set(key, value)
    this.seen.push(`${this.name} ${key} ${Inspectable.format(value)}`)
  }

  event(name: string, _startTime: bigint, attributes?: Record<string, unknown>) {
    this.seen.push(`${this.name} ${name} ${Inspectable.format(attributes)}`)
  }

  addLinks(links: ReadonlyArray<Tracer.SpanLink>) {
    this.links.push(...links)
  }
}

describe("mutual TLS against oidc-provider", () => {
  it.scoped("tls_client_auth and self_signed_tls_client_auth get tokens bound to their certificates", () =>
    Effect.gen(function*() {
      const servers = yield* setup()
      const tokens = yield* tokenService({
        clients: {
          pki: certificateClient(servers, "pki", "tls_client_auth", servers.worker),
          selfSigned: certificateClient(servers, "self-signed", "self_signed_tls_client_auth", servers.selfSigned)
        }
      }, Layer.mergeAll(servers.transport, servers.plainHttpClient, TokenCache.layerMemory()))
      const pki = yield* tokens.getToken("pki")
      const selfSigned = yield* tokens.getToken("selfSigned")
      assert.strictEqual(thumbprintOf(pki.value), servers.worker.thumbprint)
      assert.strictEqual(thumbprintOf(selfSigned.value), servers.selfSigned.thumbprint)
      const requests = yield* servers.tokenServer.tokenRequests
      assert.deepStrictEqual(
        requests.map((request) => [request.clientId, request.clientAuthMethod, request.outcome]),
        [["pki", "tls_client_auth", "success"], ["self-signed", "self_signed_tls_client_auth", "success"]]
      )
    }))

  it.scoped("the API accepts a bound token only over a connection presenting its certificate", () =>
    Effect.gen(function*() {
      const servers = yield* setup()
      const services = TokenService.layer({
        clients: {
          pki: certificateClient(servers, "pki", "tls_client_auth", servers.worker),
          other: certificateClient(servers, "pki", "tls_client_auth", servers.rotated)
        }
      }).pipe(
        Layer.provide(TokenEndpointClient.layer()),
        Layer.provideMerge(Layer.mergeAll(servers.transport, servers.plainHttpClient, TokenCache.layerMemory()))
      )
      yield* Effect.gen(function*() {
        // The middleware on the transport presenting the client's own certificate.
        const api = (yield* NodeMutualTls.httpClientOf("pki")).pipe(
          AccessTokenHttpClient.withAccessToken({ client: "pki" })
        )
        const response = yield* api.get(`${servers.api.baseUrl}test`)
        assert.strictEqual(response.status, 200)
        const token = yield* Effect.flatMap(TokenService.TokenService, (tokens) => tokens.getToken("pki"))
        const call = (httpClient: HttpClient.HttpClient) =>
          Effect.map(
            httpClient.get(`${servers.api.baseUrl}test`, {
              headers: { authorization: `Bearer ${Redacted.value(token.value)}` }
            }),
            (response) => [response.status, response.headers["www-authenticate"]]
          )
        const [withoutCertificate, challenge] = yield* call(
          yield* Effect.provide(HttpClient.HttpClient, servers.plainHttpClient)
        )
        assert.strictEqual(withoutCertificate, 401)
        assert.include(challenge, "invalid_token")
        const [withAnother] = yield* call(yield* NodeMutualTls.httpClientOf("other"))
        assert.strictEqual(withAnother, 401)
      }).pipe(Effect.provide(services))
    }))

  it.scoped("a certificate-bound token on a transport without its certificate fails at once, naming the layer", () =>
    Effect.gen(function*() {
      const servers = yield* setup()
      const services = TokenService.layer({
        clients: {
          pki: certificateClient(servers, "pki", "tls_client_auth", servers.worker),
          other: certificateClient(servers, "pki", "tls_client_auth", servers.rotated)
        }
      }).pipe(
        Layer.provide(TokenEndpointClient.layer()),
        Layer.provideMerge(Layer.mergeAll(servers.transport, servers.plainHttpClient, TokenCache.layerMemory()))
      )
      yield* Effect.gen(function*() {
        // NodeMutualTls.layerHttpClient forgotten: the plain transport under the middleware.
        const plain = (yield* HttpClient.HttpClient).pipe(AccessTokenHttpClient.withAccessToken({ client: "pki" }))
        const missing = yield* Effect.flip(plain.get(`${servers.api.baseUrl}test`))
        assert.strictEqual(missing._tag, "CertificateNotPresentedError")
        assert.include(missing.message, "NodeMutualTls.layerHttpClient")
        assert.include(missing.message, "\"pki\"")
        // The transport of another certificate (the client's before a rotation) does not carry it either.
        const another = (yield* NodeMutualTls.httpClientOf("other")).pipe(
          AccessTokenHttpClient.withAccessToken({ client: "pki" })
        )
        const mismatch = yield* Effect.flip(another.get(`${servers.api.baseUrl}test`))
        assert.strictEqual(mismatch._tag, "CertificateNotPresentedError")
        assert.include(mismatch.message, "another certificate")
        // Nothing reached the API, and the token was not renewed for it.
        assert.strictEqual(yield* servers.api.requestCount, 0)
        assert.strictEqual(yield* servers.tokenServer.tokenRequestCount, 1)
        // The right transport, under combinators on both sides of the middleware, is recognised.
        const right = (yield* NodeMutualTls.httpClientOf("pki")).pipe(
          HttpClient.mapRequest((request) => request),
          HttpClient.retryTransient({ times: 1 }),
          AccessTokenHttpClient.withAccessToken({ client: "pki" }),
          HttpClient.filterStatusOk
        )
        assert.strictEqual((yield* right.get(`${servers.api.baseUrl}test`)).status, 200)
      }).pipe(Effect.provide(services))
    }))

  it.scoped("that refusal holds no token and no private key, in its message, the logs or the spans", () =>
    Effect.gen(function*() {
      const servers = yield* setup()
      const services = TokenService.layer({
        clients: { pki: certificateClient(servers, "pki", "tls_client_auth", servers.worker) }
      }).pipe(
        Layer.provide(TokenEndpointClient.layer()),
        Layer.provideMerge(Layer.mergeAll(servers.transport, servers.plainHttpClient, TokenCache.layerMemory()))
      )
      yield* Effect.gen(function*() {
        const plain = (yield* HttpClient.HttpClient).pipe(AccessTokenHttpClient.withAccessToken({ client: "pki" }))
        const watch = yield* SpanRecorder.watch(plain.get(`${servers.api.baseUrl}test`))
        const error = Exit.isFailure(watch.exit) ? Cause.squash(watch.exit.cause) : assert.fail("the request was sent")
        assert.instanceOf(error, MutualTls.CertificateNotPresentedError)
        // The token the middleware held, taken from the cache it used (not requested again).
        const token = Redacted.value((yield* (yield* TokenService.TokenService).getToken("pki")).value)
        assert.strictEqual(yield* servers.tokenServer.tokenRequestCount, 1)
        const secrets = [token, ...keyMaterial(servers.worker)]
        assert.deepStrictEqual(SpanRecorder.leaksOf(watch, secrets), [])
        const texts = [String(error), Inspectable.format(error), Cause.pretty(Cause.fail(error))]
        assert.deepStrictEqual(secrets.filter((secret) => texts.some((text) => text.includes(secret))), [])
        assert.isNotEmpty(watch.spans, "spans are recorded")
      }).pipe(Effect.provide(services))
    }))

  it.scoped("a rotated certificate gets a new token, never the one bound to the old certificate", () =>
    Effect.gen(function*() {
      const servers = yield* setup()
      const shared = yield* TokenCache.makeMemory()
      const replicaWith = (certificate: TestCertificates.Certificate) =>
        tokenService(
          { clients: { pki: certificateClient(servers, "pki", "tls_client_auth", certificate) } },
          Layer.mergeAll(servers.transport, servers.plainHttpClient, Layer.succeed(TokenCache.TokenCache, shared))
        ).pipe(Effect.flatMap((tokens) => tokens.getToken("pki")))
      const first = yield* replicaWith(servers.worker)
      const afterRotation = yield* replicaWith(servers.rotated)
      const sameCertificate = yield* replicaWith(servers.worker)
      assert.strictEqual(thumbprintOf(first.value), servers.worker.thumbprint)
      assert.strictEqual(thumbprintOf(afterRotation.value), servers.rotated.thumbprint)
      assert.strictEqual(Redacted.value(sameCertificate.value), Redacted.value(first.value), "the cache serves it")
      assert.strictEqual(yield* servers.tokenServer.tokenRequestCount, 2)
    }))

  it.scoped("a client without a certificate gets a typed error saying what is missing", () =>
    Effect.gen(function*() {
      const servers = yield* setup()
      // Defined with a certificate, but no transport can present it: nothing is sent.
      const definition = yield* ClientCredentialsClient.make(
        certificateClient(servers, "pki", "tls_client_auth", servers.worker),
        "pki"
      )
      const refused = yield* Effect.flatMap(TokenEndpointClient.make(), (endpoint) =>
        Effect.flip(endpoint.requestToken(definition))).pipe(Effect.provide(servers.plainHttpClient))
      assert.strictEqual(refused._tag, "ClientConfigurationError")
      assert.include(refused.message, "tls_client_auth")
      assert.include(refused.message, "NodeMutualTls.layer")
      assert.strictEqual(yield* servers.tokenServer.tokenRequestCount, 0)

      // Registered for tls_client_auth at the server, but configured without a certificate.
      const tokens = yield* tokenService(
        {
          clients: {
            pki: {
              tokenEndpoint: servers.tokenServer.tokenEndpoint,
              clientId: "pki",
              scope: "api",
              authentication: "none"
            }
          }
        },
        Layer.mergeAll(servers.transport, servers.plainHttpClient, TokenCache.layerMemory())
      )
      const error = yield* Effect.flip(tokens.getToken("pki"))
      assert.strictEqual(error._tag, "TokenRefusedError")
      assert.include(error.message, "invalid_client")
    }))

  it.scoped("a key that is not the certificate's, if it reaches the transport, is a configuration error, not retried", () =>
    Effect.gen(function*() {
      const servers = yield* setup()
      // Made without MutualTls.clientCertificate, which refuses such a pair: the TLS stack refuses it too.
      const certificate = new MutualTls.ClientCertificate({
        certificate: Redacted.make(servers.worker.certificate),
        privateKey: servers.rotated.privateKey,
        thumbprint: servers.worker.thumbprint
      })
      const definition = yield* ClientCredentialsClient.make({
        tokenEndpoint: servers.tokenServer.tokenEndpoint,
        clientId: "pki",
        authentication: new MutualTls.TlsClientAuth({ certificate })
      }, "pki")
      const watch = yield* SpanRecorder.watch(
        Effect.flatMap(
          TokenEndpointClient.make(),
          (endpoint) => Effect.flip(endpoint.requestToken(definition))
        ).pipe(
          Effect.provide(Layer.merge(servers.transport, servers.plainHttpClient))
        )
      )
      const error = Exit.isSuccess(watch.exit) ? watch.exit.value : assert.fail("a token was issued")
      assert.strictEqual(error._tag, "ClientConfigurationError")
      // Neither key, in the error, the logs or the spans: the transport's error text is all it passes on.
      const secrets = [...keyMaterial(servers.rotated), ...keyMaterial(servers.worker)]
      assert.deepStrictEqual(SpanRecorder.leaksOf(watch, secrets), [])
      const texts = [String(error), Inspectable.format(error), Cause.pretty(Cause.fail(error))]
      assert.deepStrictEqual(secrets.filter((secret) => texts.some((text) => text.includes(secret))), [])
      assert.isNotEmpty(watch.spans, "spans are recorded")
      assert.isFalse(TokenError.isRetryable(error))
      assert.strictEqual(error._tag === "ClientConfigurationError" && error.field, "authentication")
      assert.include(error.message, "ERR_OSSL_X509_KEY_VALUES_MISMATCH")
      assert.notInclude(error.message, Redacted.value(servers.rotated.privateKey).slice(40, 80))
      assert.strictEqual(yield* servers.tokenServer.tokenRequestCount, 0)

      // Warm-up with failFast stops the build on it, as on any configuration error.
      const built = yield* Effect.flip(tokenService(
        { clients: { pki: definition }, warmUp: true, failFast: true },
        Layer.mergeAll(servers.transport, servers.plainHttpClient, TokenCache.layerMemory())
      ))
      assert.strictEqual((built as { readonly _tag: string })._tag, "ClientConfigurationError")
    }))

  it.scoped("reads the certificate and its key from the environment", () =>
    Effect.gen(function*() {
      const servers = yield* setup()
      // Environment variables as `ConfigProvider.fromEnv` reads them: path segments joined by `_`.
      const environment = ConfigProvider.fromMap(
        new Map([
          ["BANK_TOKEN_ENDPOINT", servers.tokenServer.tokenEndpoint],
          ["BANK_CLIENT_ID", "pki"],
          ["BANK_SCOPE", "api"],
          ["BANK_TOKEN_ENDPOINT_AUTH_METHOD", "tls_client_auth"],
          ["BANK_CERTIFICATE", servers.worker.certificate],
          ["BANK_PRIVATE_KEY", Redacted.value(servers.worker.privateKey)]
        ]),
        { pathDelim: "_" }
      )
      const bank = yield* Effect.withConfigProvider(ClientCredentialsClient.config("BANK"), environment)
      const tokens = yield* tokenService(
        { clients: { bank } },
        Layer.mergeAll(servers.transport, servers.plainHttpClient, TokenCache.layerMemory())
      )
      const token = yield* tokens.getToken("bank")
      assert.strictEqual(thumbprintOf(token.value), servers.worker.thumbprint)
    }))

  it.scoped("the private key stays out of every log line, span and error, through success and refusal", () =>
    Effect.gen(function*() {
      const servers = yield* setup()
      const seen: Array<string> = []
      const logger = Logger.make(({ cause, message }) => {
        seen.push(Inspectable.toStringUnknown(message), Cause.pretty(cause, { renderErrorCause: true }))
      })
      const tracer = Tracer.make({
        span: (name, parent, context, links, startTime, kind) =>
          new SeenSpan(seen, name, parent, context, startTime, kind),
        context: (f) => f()
      })
      const services = TokenService.layer({
        clients: {
          pki: certificateClient(servers, "pki", "tls_client_auth", servers.worker),
          // registered at the server with another certificate: refused
          impostor: certificateClient(servers, "self-signed", "self_signed_tls_client_auth", servers.rotated)
        }
      }).pipe(
        Layer.provide(TokenEndpointClient.layer()),
        Layer.provideMerge(Layer.mergeAll(servers.transport, servers.plainHttpClient, TokenCache.layerMemory()))
      )
      yield* Effect.gen(function*() {
        const tokens = yield* TokenService.TokenService
        const refused = yield* Effect.flip(tokens.getToken("impostor"))
        assert.strictEqual(refused._tag, "TokenRefusedError")
        seen.push(Inspectable.format(refused), String(refused), Inspectable.format(yield* tokens.client("pki")))
        const api = (yield* NodeMutualTls.httpClientOf("pki")).pipe(
          AccessTokenHttpClient.withAccessToken({ client: "pki" })
        )
        assert.strictEqual((yield* api.get(`${servers.api.baseUrl}test`)).status, 200)
      }).pipe(
        Effect.provide(services),
        Effect.withTracer(tracer),
        Logger.withMinimumLogLevel(LogLevel.All),
        Effect.provide(Logger.replace(Logger.defaultLogger, logger))
      )
      assert.isTrue(seen.some((text) => text.includes("TokenEndpointClient.requestToken")), "spans are seen")
      for (const certificate of [servers.worker, servers.rotated]) {
        const key = Redacted.value(certificate.privateKey).replace(/-----[A-Z ]+-----|\s+/g, "").slice(0, 32)
        assert.deepStrictEqual(seen.filter((text) => text.includes(key)), [])
      }
    }))

  it.scoped("a client configured by issuer sends its token requests to the mtls_endpoint_aliases", () =>
    Effect.gen(function*() {
      const servers = yield* setup({ mtlsEndpointAliases: true })
      const { tokenEndpoint: _, ...byIssuer } = certificateClient(servers, "pki", "tls_client_auth", servers.worker)
      const tokens = yield* tokenService(
        { clients: { pki: { ...byIssuer, issuer: servers.tokenServer.issuer } } },
        Layer.mergeAll(servers.transport, servers.plainHttpClient, TokenCache.layerMemory())
      )
      // The main token endpoint asks for no certificate, so a token bound to it came from the alias.
      const token = yield* tokens.getToken("pki")
      assert.strictEqual(thumbprintOf(token.value), servers.worker.thumbprint)
      assert.isDefined(servers.tokenServer.mtlsTokenEndpoint)
      assert.strictEqual(yield* servers.tokenServer.tokenRequestCount, 1)
    }))
})
