// @ts-nocheck
import {
  AuthorizationServerMetadata,
  ClientCredentialsClient,
  TokenCache,
  TokenEndpointClient,
  TokenService
} from "@access-token/core"
import { TestCertificates, TokenServer } from "@access-token/testing"
import { FetchHttpClient, HttpClient, HttpClientError, HttpClientResponse } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import {
  Cause,
  ConfigProvider,
  Context,
  Duration,
  Effect,
  Either,
  Exit,
  Fiber,
  Layer,
  Logger,
  Option,
  Redacted,
  Schedule,
  TestClock
} from "effect"
import * as Jose from "jose"
import { maxAgeOf, parseObject, targetOf, wellKnownUrl } from "../src/internal/discovery.js"
import { resolve } from "../src/internal/tokenRequest.js"

const ISSUER = "https://as.example.com"
const RFC8414 = "https://as.example.com/.well-known/oauth-authorization-server"
const OIDC = "https://as.example.com/.well-known/openid-configuration"

type Reply =
  | { readonly status?: number; readonly body?: string; readonly headers?: Readonly<Record<string, string>> }
  | "never"
  | { readonly transport: string }

const json = (status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): Reply => ({
  status,
  body: typeof body === "string" ? body : JSON.stringify(body),
  headers: { "content-type": "application/json", ...headers }
})

const documentOf = (issuer: string, members: Record<string, unknown> = {}) => ({
  issuer,
  token_endpoint: `${issuer}/token`,
  token_endpoint_auth_methods_supported: ["client_secret_basic", "private_key_jwt"],
  ...members
})

const notFound: Reply = { status: 404, body: "<html>not here</html>", headers: { "content-type": "text/html" } }

/**
 * A fake server answering by URL: each URL has its replies, the last one repeating; other URLs get
 * a 404. It records every URL asked for, and whether the request ran with redirects disabled.
 */
const fakeServer = (routes: Readonly<Record<string, ReadonlyArray<Reply>>>) => {
  const requests: Array<{ readonly url: string; readonly redirect: RequestRedirect | undefined }> = []
  const counts = new Map<string, number>()
  const http = HttpClient.make((request) =>
    Effect.flatMap(Effect.serviceOption(FetchHttpClient.RequestInit), (init) => {
      requests.push({ url: request.url, redirect: Option.getOrUndefined(init)?.redirect })
      const replies = routes[request.url] ?? [notFound]
      const count = (counts.get(request.url) ?? 0) + 1
      counts.set(request.url, count)
      const reply = replies[Math.min(count, replies.length) - 1]
      if (reply === "never") return Effect.never
      if ("transport" in reply) {
        return Effect.fail(
          new HttpClientError.RequestError({
            request,
            reason: "Transport",
            cause: Object.assign(new Error("connect"), { code: reply.transport })
          })
        )
      }
      return Effect.succeed(
        HttpClientResponse.fromWeb(
          request,
          new Response(reply.body ?? "", { status: reply.status ?? 200, headers: reply.headers ?? {} })
        )
      )
    })
  )
  return { http, requests, urls: () => requests.map((request) => request.url) }
}

type Result = Exit.Exit<AuthorizationServerMetadata.Discovered, AuthorizationServerMetadata.MetadataError>

/** Runs a retrieval in the background and moves the TestClock until it is done. */
const discover = (
  server: ReturnType<typeof fakeServer>,
  issuer: string = ISSUER,
  options?: AuthorizationServerMetadata.Options
) =>
  Effect.gen(function*() {
    const fiber = yield* AuthorizationServerMetadata.discover(issuer, options).pipe(
      Effect.provideService(HttpClient.HttpClient, server.http),
      Effect.exit,
      Effect.fork
    )
    yield* TestClock.adjust("5 minutes")
    const polled = yield* Fiber.poll(fiber)
    if (Option.isNone(polled)) return assert.fail("the retrieval was still running after 5 minutes")
    return Exit.flatten(polled.value) as Result
  })

const documentFrom = (result: Result): AuthorizationServerMetadata.Discovered => {
  if (Exit.isFailure(result)) return assert.fail(`expected a document, got ${Cause.pretty(result.cause)}`)
  return result.value
}

function errorWithTag<Tag extends AuthorizationServerMetadata.MetadataError["_tag"]>(
  result: Result,
  tag: Tag
): Extract<AuthorizationServerMetadata.MetadataError, { readonly _tag: Tag }> {
  if (Exit.isSuccess(result)) return assert.fail("expected a failure, got a document")
  const failure = Cause.failureOption(result.cause)
  if (Option.isNone(failure)) return assert.fail(`expected a failure, got ${Cause.pretty(result.cause)}`)
  assert.strictEqual(failure.value._tag, tag, failure.value.message)
  return failure.value as Extract<AuthorizationServerMetadata.MetadataError, { readonly _tag: Tag }>
}

describe("well-known locations", () => {
  it("RFC 8414 inserts its segment before the issuer's path; OpenID Connect appends its own", () => {
    const issuer = new URL("https://as.example.com/tenants/acme")
    assert.strictEqual(
      wellKnownUrl(issuer, "oauth-authorization-server"),
      "https://as.example.com/.well-known/oauth-authorization-server/tenants/acme"
    )
    assert.strictEqual(
      wellKnownUrl(issuer, "openid-configuration"),
      "https://as.example.com/tenants/acme/.well-known/openid-configuration"
    )
  })

  it("a terminating slash is dropped first, so an issuer with and without it share locations", () => {
    for (const issuer of ["https://as.example.com", "https://as.example.com/"]) {
      assert.strictEqual(wellKnownUrl(new URL(issuer), "oauth-authorization-server"), RFC8414)
      assert.strictEqual(wellKnownUrl(new URL(issuer), "openid-configuration"), OIDC)
    }
    assert.strictEqual(
      wellKnownUrl(new URL("https://as.example.com/realm/"), "oauth-authorization-server"),
      "https://as.example.com/.well-known/oauth-authorization-server/realm"
    )
  })

  it("max-age is read from Cache-Control; no-store and no-cache mean zero", () => {
    assert.deepStrictEqual(maxAgeOf("public, max-age=600"), Duration.seconds(600))
    assert.deepStrictEqual(maxAgeOf("no-store"), Duration.zero)
    assert.deepStrictEqual(maxAgeOf("max-age=60, no-cache"), Duration.zero)
    assert.strictEqual(maxAgeOf("public"), undefined)
    assert.strictEqual(maxAgeOf("max-age=soon"), undefined)
    assert.strictEqual(maxAgeOf(undefined), undefined)
  })
})

describe("AuthorizationServerMetadata.discover", () => {
  it.effect("reads RFC 8414's location first, with redirects disabled", () =>
    Effect.gen(function*() {
      const server = fakeServer({ [RFC8414]: [json(200, documentOf(ISSUER), { "cache-control": "max-age=900" })] })
      const discovered = documentFrom(yield* discover(server))
      assert.strictEqual(discovered.metadata.issuer, ISSUER)
      assert.strictEqual(discovered.metadata.token_endpoint, `${ISSUER}/token`)
      assert.strictEqual(discovered.location, RFC8414)
      assert.deepStrictEqual(discovered.maxAge, Duration.seconds(900))
      assert.deepStrictEqual(server.requests, [{ url: RFC8414, redirect: "manual" }])
    }))

  it.effect("falls back to OpenID Connect Discovery when RFC 8414's location has no document", () =>
    Effect.gen(function*() {
      const server = fakeServer({ [OIDC]: [json(200, documentOf(ISSUER))] })
      const discovered = documentFrom(yield* discover(server))
      assert.strictEqual(discovered.location, OIDC)
      assert.deepStrictEqual(server.urls(), [RFC8414, OIDC])
    }))

  it.effect("a catch-all page served with 200 at the first location hands over to the next", () =>
    Effect.gen(function*() {
      const server = fakeServer({
        [RFC8414]: [{
          status: 200,
          body: "<!doctype html><title>app</title>",
          headers: { "content-type": "text/html" }
        }],
        [OIDC]: [json(200, documentOf(ISSUER))]
      })
      assert.strictEqual(documentFrom(yield* discover(server)).location, OIDC)
    }))

  it.effect("the order is configurable, with the same fallback the other way round", () =>
    Effect.gen(function*() {
      const order = ["openid-configuration", "oauth-authorization-server"] as const
      const both = fakeServer({ [RFC8414]: [json(200, documentOf(ISSUER))], [OIDC]: [json(200, documentOf(ISSUER))] })
      assert.strictEqual(documentFrom(yield* discover(both, ISSUER, { order })).location, OIDC)
      assert.deepStrictEqual(both.urls(), [OIDC])

      const onlyRfc8414 = fakeServer({ [RFC8414]: [json(200, documentOf(ISSUER))] })
      assert.strictEqual(documentFrom(yield* discover(onlyRfc8414, ISSUER, { order })).location, RFC8414)
      assert.deepStrictEqual(onlyRfc8414.urls(), [OIDC, RFC8414])
    }))

  it.effect("an issuer with a path is found at both of its locations", () =>
    Effect.gen(function*() {
      const issuer = "https://as.example.com/tenants/acme"
      const rfc8414 = fakeServer({
        "https://as.example.com/.well-known/oauth-authorization-server/tenants/acme": [json(200, documentOf(issuer))]
      })
      assert.strictEqual(documentFrom(yield* discover(rfc8414, issuer)).metadata.issuer, issuer)

      const oidc = fakeServer({
        "https://as.example.com/tenants/acme/.well-known/openid-configuration": [json(200, documentOf(issuer))]
      })
      assert.strictEqual(documentFrom(yield* discover(oidc, issuer)).metadata.issuer, issuer)
      assert.deepStrictEqual(oidc.urls(), [
        "https://as.example.com/.well-known/oauth-authorization-server/tenants/acme",
        "https://as.example.com/tenants/acme/.well-known/openid-configuration"
      ])
    }))

  it.effect("no document at any location is a typed error naming each location, not retried", () =>
    Effect.gen(function*() {
      const server = fakeServer({})
      const error = errorWithTag(yield* discover(server), "MetadataUnavailableError")
      assert.strictEqual(error.reason, "Status")
      assert.strictEqual(error.status, 404)
      assert.deepStrictEqual(error.locations, [RFC8414, OIDC])
      assert.include(error.message, RFC8414)
      assert.include(error.message, OIDC)
      assert.include(error.message, "HTTP 404")
      assert.deepStrictEqual(server.urls(), [RFC8414, OIDC])
    }))

  it.effect("a document for another issuer is refused, character for character, and not retried", () =>
    Effect.gen(function*() {
      const server = fakeServer({ [RFC8414]: [json(200, documentOf(`${ISSUER}/`))] })
      const error = errorWithTag(yield* discover(server), "InvalidMetadataError")
      assert.strictEqual(error.reason, "IssuerMismatch")
      assert.strictEqual(error.location, RFC8414)
      assert.include(error.message, `"${ISSUER}/"`)
      assert.include(error.message, "RFC 8414 §3.3")
      assert.deepStrictEqual(server.urls(), [RFC8414])
    }))

  it.effect("an issuer that differs from the document's by a trailing slash only is refused, and the message says so", () =>
    Effect.gen(function*() {
      for (const [configured, published] of [[ISSUER, `${ISSUER}/`], [`${ISSUER}/`, ISSUER]]) {
        const server = fakeServer({ [RFC8414]: [json(200, documentOf(published))] })
        const error = errorWithTag(yield* discover(server, configured), "InvalidMetadataError")
        assert.strictEqual(error.reason, "IssuerMismatch")
        assert.include(
          error.message,
          `the two differ by a trailing slash only: configure the issuer as the string ${JSON.stringify(published)}`
        )
      }
    }))

  it.effect("a redirect is never followed: the next location is tried, and the target never asked", () =>
    Effect.gen(function*() {
      const elsewhere = "https://attacker.example/.well-known/openid-configuration"
      const redirect: Reply = { status: 302, headers: { location: elsewhere } }
      const server = fakeServer({
        [RFC8414]: [redirect],
        [OIDC]: [redirect],
        [elsewhere]: [json(200, documentOf(ISSUER))]
      })
      const error = errorWithTag(yield* discover(server), "MetadataUnavailableError")
      assert.strictEqual(error.status, 302)
      assert.include(error.message, "redirect, which is not followed")
      assert.deepStrictEqual(server.requests, [{ url: RFC8414, redirect: "manual" }, { url: OIDC, redirect: "manual" }])
    }))

  it.effect("a document over the size cap is refused, whether announced or streamed", () =>
    Effect.gen(function*() {
      const big = JSON.stringify(documentOf(ISSUER, { padding: "x".repeat(2048) }))
      const announced = fakeServer({ [RFC8414]: [json(200, big, { "content-length": String(big.length) })] })
      const streamed = fakeServer({ [RFC8414]: [json(200, big)] })
      for (const server of [announced, streamed]) {
        const error = errorWithTag(yield* discover(server, ISSUER, { maxResponseBytes: 1024 }), "InvalidMetadataError")
        assert.strictEqual(error.reason, "TooLarge")
        assert.include(error.message, "larger than 1024 bytes")
      }
    }))

  it.effect("a location that never answers times out, and the timeout is retried on the schedule", () =>
    Effect.gen(function*() {
      const server = fakeServer({ [RFC8414]: ["never"] })
      const error = errorWithTag(
        yield* discover(server, ISSUER, { requestTimeout: "2 seconds", retrySchedule: Schedule.recurs(2) }),
        "MetadataUnavailableError"
      )
      assert.strictEqual(error.reason, "Timeout")
      assert.include(error.message, "got no answer in time")
      assert.deepStrictEqual(server.urls(), [RFC8414, RFC8414, RFC8414])
    }))

  it.effect("an unreachable server and a 503 are retried until the document comes", () =>
    Effect.gen(function*() {
      const server = fakeServer({
        [RFC8414]: [{ transport: "ECONNREFUSED" }, { status: 503 }, json(200, documentOf(ISSUER))]
      })
      assert.strictEqual(documentFrom(yield* discover(server)).metadata.issuer, ISSUER)
      assert.deepStrictEqual(server.urls(), [RFC8414, RFC8414, RFC8414])

      const down = fakeServer({ [RFC8414]: [{ transport: "ECONNREFUSED" }] })
      const error = errorWithTag(yield* discover(down), "MetadataUnavailableError")
      assert.strictEqual(error.reason, "Connect")
      assert.include(error.message, "could not connect to")
      assert.strictEqual(down.urls().length, 4, "the default schedule retries 3 times")
    }))

  it.effect("__proto__ in the document is inert, at the top and nested", () =>
    Effect.gen(function*() {
      const body = `{"issuer":${JSON.stringify(ISSUER)},"token_endpoint":"${ISSUER}/token",` +
        `"__proto__":{"polluted":true},"mtls_endpoint_aliases":{"__proto__":{"polluted":true},` +
        `"token_endpoint":"https://mtls.as.example.com/token"}}`
      const server = fakeServer({ [RFC8414]: [json(200, body)] })
      const { metadata } = documentFrom(yield* discover(server))
      assert.strictEqual(Object.getPrototypeOf(metadata), Object.prototype)
      assert.strictEqual((metadata as Record<string, unknown>).polluted, undefined)
      const aliases = metadata.mtls_endpoint_aliases!
      assert.strictEqual(Object.getPrototypeOf(aliases), Object.prototype)
      assert.strictEqual((aliases as Record<string, unknown>).polluted, undefined)
      assert.deepStrictEqual(aliases, { token_endpoint: "https://mtls.as.example.com/token" })
      assert.strictEqual(({} as Record<string, unknown>).polluted, undefined)
      const parsed = parseObject(`{"__proto__":{"polluted":true}}`)
      assert.deepStrictEqual(parsed, {})
    }))

  it.effect("unknown members are kept as the server sent them", () =>
    Effect.gen(function*() {
      const extra = { custom_feature: { enabled: true, levels: [1, 2] }, "x-vendor": "value" }
      const server = fakeServer({ [RFC8414]: [json(200, documentOf(ISSUER, extra))] })
      const { metadata } = documentFrom(yield* discover(server))
      assert.deepStrictEqual(metadata.custom_feature, extra.custom_feature)
      assert.strictEqual(metadata["x-vendor"], "value")
      assert.deepStrictEqual(metadata.token_endpoint_auth_methods_supported, ["client_secret_basic", "private_key_jwt"])
    }))

  it.effect("a malformed document names the member at fault without quoting values", () =>
    Effect.gen(function*() {
      const server = fakeServer({
        [RFC8414]: [json(200, documentOf(ISSUER, { token_endpoint_auth_methods_supported: "secret-value" }))]
      })
      const error = errorWithTag(yield* discover(server), "InvalidMetadataError")
      assert.strictEqual(error.reason, "Malformed")
      assert.include(error.message, "token_endpoint_auth_methods_supported")
      assert.notInclude(error.message, "secret-value")
    }))

  it.effect("a token endpoint over plain http off loopback is refused", () =>
    Effect.gen(function*() {
      const server = fakeServer({
        [RFC8414]: [json(200, documentOf(ISSUER, { token_endpoint: "http://as.example.com/token" }))]
      })
      const error = errorWithTag(yield* discover(server), "InvalidMetadataError")
      assert.strictEqual(error.reason, "InsecureEndpoint")
    }))

  it.effect("an issuer that cannot be one fails before any request", () =>
    Effect.gen(function*() {
      const server = fakeServer({})
      for (const issuer of ["not a url", `${ISSUER}?tenant=a`, `${ISSUER}#x`, "http://as.example.com"]) {
        const error = errorWithTag(yield* discover(server, issuer), "InvalidMetadataError")
        assert.strictEqual(error.reason, "Issuer")
      }
      assert.deepStrictEqual(server.urls(), [])
      const loopback = "http://127.0.0.1:8080/realm"
      const local = fakeServer({
        "http://127.0.0.1:8080/.well-known/oauth-authorization-server/realm": [json(200, documentOf(loopback))]
      })
      assert.strictEqual(documentFrom(yield* discover(local, loopback)).metadata.issuer, loopback)
    }))
})

describe("AuthorizationServerMetadata against oidc-provider", () => {
  const live = (issuer: string, options?: AuthorizationServerMetadata.Options) =>
    AuthorizationServerMetadata.discover(issuer, options).pipe(Effect.provide(NodeHttpClient.layerUndici))

  it.scoped("both well-known documents are served, for an issuer with and without a path", () =>
    Effect.gen(function*() {
      for (const issuerPath of [undefined, "/tenants/acme"]) {
        const server = yield* TokenServer.make({ issuerPath })
        for (const order of [["oauth-authorization-server"], ["openid-configuration"]] as const) {
          const { location, metadata } = yield* live(server.issuer, { order })
          assert.strictEqual(metadata.issuer, server.issuer)
          assert.strictEqual(metadata.token_endpoint, server.tokenEndpoint)
          assert.strictEqual(metadata.jwks_uri, server.jwksUri)
          assert.strictEqual(location, wellKnownUrl(new URL(server.issuer), order[0]))
        }
        assert.strictEqual(yield* server.metadataRequestCount, 2)
      }
    }))

  it.scoped("a document whose issuer differs from the configured one is refused", () =>
    Effect.gen(function*() {
      const server = yield* TokenServer.make({ issuerPath: "/tenants/acme" })
      const error = yield* Effect.flip(live(`${server.issuer}/`))
      assert.strictEqual(error._tag, "InvalidMetadataError")
      assert.strictEqual(error.reason, "IssuerMismatch")
    }))

  it.scoped("documents that are down answer 503, are retried, and are found once back", () =>
    Effect.gen(function*() {
      const server = yield* TokenServer.make()
      yield* server.setMetadataAvailable(false)
      const error = yield* Effect.flip(live(server.issuer, { retrySchedule: Schedule.recurs(1) }))
      assert.strictEqual(error._tag, "MetadataUnavailableError")
      assert.strictEqual(error.reason === "Status" && error.status, 503)
      assert.strictEqual(yield* server.metadataRequestCount, 2)
      yield* server.setMetadataAvailable(true)
      assert.strictEqual((yield* live(server.issuer)).metadata.issuer, server.issuer)
    }))
})

describe("a client configured by issuer", () => {
  const clientBy = (issuer: string | URL, overrides: Partial<ClientCredentialsClient.Input> = {}) => ({
    issuer,
    clientId: "m2m",
    clientSecret: Redacted.make("secret"),
    scope: "api",
    ...overrides
  })

  /** A token service on a real HTTP client, for as long as the scope lasts. */
  const service = (options: TokenService.Options, endpoint?: TokenEndpointClient.Options) =>
    Layer.build(
      TokenService.layer(options).pipe(
        Layer.provide([TokenEndpointClient.layer(endpoint), TokenCache.layerMemory()]),
        Layer.provide(NodeHttpClient.layerUndici)
      )
    ).pipe(Effect.map(Context.get(TokenService.TokenService)))

  it("is given an issuer or a token endpoint, never both, never neither", () => {
    const made = (input: Partial<ClientCredentialsClient.Input>) =>
      Effect.runSync(Effect.flip(ClientCredentialsClient.make({ clientId: "m2m", ...input }, "billing")))
    assert.include(made({}).message, "tokenEndpoint is required, or give issuer")
    assert.include(
      made({ issuer: "https://as.example.com", tokenEndpoint: "https://as.example.com/token" }).message,
      "issuer and tokenEndpoint are both given: give one"
    )
    assert.include(made({ issuer: "https://as.example.com?tenant=a" }).message, "issuer must be an absolute")
    assert.include(made({ issuer: "http://as.example.com" }).message, "issuer is plain http to as.example.com")
  })

  it("given as a URL, is its href, but for a root path: the / the URL parser adds is dropped", () => {
    const issuerOf = (issuer: URL) => Effect.runSync(ClientCredentialsClient.make(clientBy(issuer), "billing")).issuer
    assert.strictEqual(issuerOf(new URL("https://login.example.com")), "https://login.example.com")
    assert.strictEqual(issuerOf(new URL("https://login.example.com/")), "https://login.example.com")
    assert.strictEqual(issuerOf(new URL("https://login.example.com:8443")), "https://login.example.com:8443")
    assert.strictEqual(issuerOf(new URL("https://login.example.com/tenants/a")), "https://login.example.com/tenants/a")
    assert.strictEqual(
      issuerOf(new URL("https://login.example.com/tenants/a/")),
      "https://login.example.com/tenants/a/"
    )
    // An empty query is still a query: refused, as a string with one is.
    const refused = Effect.runSync(
      Effect.flip(ClientCredentialsClient.make(clientBy(new URL(`${ISSUER}?`)), "billing"))
    )
    assert.strictEqual(refused.field, "issuer")
  })

  it.effect("given as a URL, matches a root issuer published without a trailing slash, not one published with it", () =>
    Effect.gen(function*() {
      for (const [published, matches] of [[ISSUER, true], [`${ISSUER}/`, false]] as const) {
        const server = fakeServer({ [RFC8414]: [json(200, documentOf(published))] })
        const endpoint = yield* TokenEndpointClient.make().pipe(
          Effect.provideService(HttpClient.HttpClient, server.http)
        )
        const client = yield* ClientCredentialsClient.make(clientBy(new URL(ISSUER)), "billing")
        const fiber = yield* Effect.fork(Effect.exit(endpoint.discover(client.issuer!)))
        yield* TestClock.adjust("1 minute")
        const result = yield* Fiber.join(fiber)
        if (matches) assert.strictEqual(documentFrom(result).metadata.issuer, ISSUER)
        else assert.strictEqual(errorWithTag(result, "InvalidMetadataError").reason, "IssuerMismatch")
      }
    }))

  it.effect("is read from <PREFIX>_ISSUER in place of <PREFIX>_TOKEN_ENDPOINT", () =>
    Effect.gen(function*() {
      const environment = new Map([["BILLING_ISSUER", "https://as.example.com/tenants/a"], [
        "BILLING_CLIENT_ID",
        "m2m"
      ], ["BILLING_AUTHENTICATION", "none"]])
      const read = yield* ClientCredentialsClient.config("BILLING").pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(environment, { pathDelim: "_" }))
      )
      assert.strictEqual(read.issuer, "https://as.example.com/tenants/a")
      assert.strictEqual(read.tokenEndpoint, undefined)
      const client = yield* ClientCredentialsClient.make(read, "billing")
      assert.strictEqual(client.issuer, "https://as.example.com/tenants/a")
      const neither = yield* ClientCredentialsClient.config("BILLING").pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["BILLING_CLIENT_ID", "m2m"]]), { pathDelim: "_" })),
        Effect.flatMap((input) => ClientCredentialsClient.make(input, "billing")),
        Effect.flip
      )
      assert.include(neither.message, "BILLING_TOKEN_ENDPOINT is required, or set BILLING_ISSUER")
    }))

  it("is keyed by its issuer: stable whatever its metadata says, distinct for another issuer", () => {
    const keyOf = (input: ClientCredentialsClient.Input) => {
      const client = Effect.runSync(ClientCredentialsClient.make(input, "billing"))
      return Effect.runSync(resolve(client)).localKey
    }
    const first = keyOf(clientBy("https://as.example.com/tenants/a"))
    assert.strictEqual(keyOf(clientBy("https://as.example.com/tenants/a")), first)
    assert.notStrictEqual(keyOf(clientBy("https://as.example.com/tenants/b")), first)
    assert.include(first, "https://as.example.com/tenants/a")
    assert.notInclude(first, "/token")
  })

  it.scoped("gets tokens: one metadata request for every client and fiber of the issuer", () =>
    Effect.gen(function*() {
      const server = yield* TokenServer.make({
        clients: [{ clientId: "m2m", clientSecret: "secret" }, { clientId: "other", clientSecret: "other-secret" }]
      })
      const tokens = yield* service({
        clients: {
          billing: clientBy(server.issuer),
          audit: clientBy(server.issuer, { clientId: "other", clientSecret: Redacted.make("other-secret") })
        }
      })
      const got = yield* Effect.forEach(
        Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? "billing" : "audit")),
        (name) => tokens.getToken(name),
        { concurrency: "unbounded" }
      )
      assert.strictEqual(Jose.decodeJwt(Redacted.value(got[0].value)).iss, server.issuer)
      assert.strictEqual(yield* server.metadataRequestCount, 1)
      assert.strictEqual(yield* server.tokenRequestCount, 2)
    }))

  it.scoped("an issuer with a path works", () =>
    Effect.gen(function*() {
      const server = yield* TokenServer.make({ issuerPath: "/tenants/acme" })
      const tokens = yield* service({ clients: { billing: clientBy(server.issuer) } })
      const token = yield* tokens.getToken("billing")
      assert.strictEqual(Jose.decodeJwt(Redacted.value(token.value)).iss, server.issuer)
      const requests = yield* server.tokenRequests
      assert.deepStrictEqual(requests.map((request) => [request.clientId, request.outcome]), [["m2m", "success"]])
    }))

  it.scoped("an issuer given as a URL gets tokens from oidc-provider, whose root issuer has no trailing slash", () =>
    Effect.gen(function*() {
      const server = yield* TokenServer.make()
      assert.isFalse(server.issuer.endsWith("/"))
      const tokens = yield* service({ clients: { billing: clientBy(new URL(server.issuer)) } })
      const token = yield* tokens.getToken("billing")
      assert.strictEqual(Jose.decodeJwt(Redacted.value(token.value)).iss, server.issuer)
    }))

  it.scoped("a document for another issuer is a typed error, and no token request is sent", () =>
    Effect.gen(function*() {
      const server = yield* TokenServer.make({ issuerPath: "/tenants/acme" })
      const tokens = yield* service({ clients: { billing: clientBy(`${server.issuer}/`) } })
      const error = yield* Effect.flip(tokens.getToken("billing"))
      assert.strictEqual(error._tag, "InvalidMetadataError")
      assert.strictEqual(error._tag === "InvalidMetadataError" && error.reason, "IssuerMismatch")
      assert.strictEqual(yield* server.tokenRequestCount, 0)
    }))

  it.scoped("metadata down at start: a typed error within the retry budget, then tokens once it is back", () =>
    Effect.gen(function*() {
      const server = yield* TokenServer.make()
      yield* server.setMetadataAvailable(false)
      const tokens = yield* service({ clients: { billing: clientBy(server.issuer) } }, {
        retrySchedule: Schedule.recurs(2)
      })
      const error = yield* Effect.flip(tokens.getToken("billing"))
      assert.strictEqual(error._tag, "MetadataUnavailableError")
      assert.include(error.message, "HTTP 503")
      assert.strictEqual(yield* server.metadataRequestCount, 3, "the first try and 2 retries")
      assert.strictEqual(yield* server.tokenRequestCount, 0)
      yield* server.setMetadataAvailable(true)
      yield* tokens.getToken("billing")
      assert.strictEqual(yield* server.metadataRequestCount, 4)
      assert.strictEqual(yield* server.tokenRequestCount, 1)
    }))

  it.effect("a certificate client cannot use a document whose mTLS alias is plain http or no URL; another client can", () =>
    Effect.gen(function*() {
      const worker = yield* TestCertificates.selfSigned("worker")
      const withCertificate = yield* ClientCredentialsClient.make(
        clientBy(ISSUER, {
          clientSecret: undefined,
          authentication: {
            method: "self_signed_tls_client_auth",
            certificate: Redacted.make(worker.certificate),
            privateKey: worker.privateKey
          }
        }),
        "bank"
      )
      const withSecret = yield* ClientCredentialsClient.make(clientBy(ISSUER), "billing")
      const documentWith = (alias: string) => ({
        metadata: documentOf(ISSUER, { mtls_endpoint_aliases: { token_endpoint: alias } }),
        location: RFC8414
      })
      const insecure = targetOf(withCertificate, ISSUER, documentWith("http://mtls.as.example.com/token"))
      assert.isTrue(Either.isLeft(insecure) && insecure.left.reason === "InsecureEndpoint")
      assert.include(
        Either.isLeft(insecure) ? insecure.left.message : "",
        "mtls_endpoint_aliases.token_endpoint is plain http to mtls.as.example.com"
      )
      const noUrl = targetOf(withCertificate, ISSUER, documentWith("token"))
      assert.isTrue(Either.isLeft(noUrl) && noUrl.left.reason === "Malformed")
      const usable = targetOf(withSecret, ISSUER, documentWith("http://mtls.as.example.com/token"))
      assert.strictEqual(Either.isRight(usable) && usable.right.tokenEndpoint, `${ISSUER}/token`)
    }))

  it.scoped("a refresh answering a document the client cannot use keeps the last good one, and a fix comes within a minute", () =>
    Effect.gen(function*() {
      const unusable = {
        "no token endpoint": { issuer: ISSUER },
        "plain http off loopback": documentOf(ISSUER, { token_endpoint: "http://as.example.com/token/v2" }),
        "another issuer": documentOf("https://other.example.com", { token_endpoint: `${ISSUER}/token/v2` }),
        "a token endpoint that is no URL": documentOf(ISSUER, { token_endpoint: "token/v2" })
      }
      for (const [name, broken] of Object.entries(unusable)) {
        let published: unknown = documentOf(ISSUER, { token_endpoint: `${ISSUER}/token/v1` })
        const metadataRequests: Array<string> = []
        const tokenRequests: Array<string> = []
        const http = HttpClient.make((request) =>
          Effect.sync(() => {
            const answer = request.url === RFC8414
              ? (metadataRequests.push(request.url), published)
              : (tokenRequests.push(request.url), { access_token: "tok", token_type: "Bearer", expires_in: 3600 })
            return HttpClientResponse.fromWeb(
              request,
              new Response(JSON.stringify(answer), { headers: { "content-type": "application/json" } })
            )
          })
        )
        const warned: Array<string> = []
        const tokens = yield* Layer.build(
          TokenService.layer({ clients: { billing: clientBy(ISSUER) } }).pipe(
            Layer.provide([TokenEndpointClient.layer(), TokenCache.layerMemory()]),
            Layer.provide(Layer.succeed(HttpClient.HttpClient, http))
          )
        ).pipe(Effect.map(Context.get(TokenService.TokenService)))
        const renew = tokens.getToken("billing", { forceRenewal: true }).pipe(
          Effect.provide(
            Logger.replace(Logger.defaultLogger, Logger.make(({ message }) => warned.push(String(message))))
          )
        )
        const settle = Effect.repeatN(Effect.yieldNow(), 50)
        yield* renew
        published = broken
        yield* TestClock.adjust("1 hour")
        yield* renew
        yield* settle
        assert.strictEqual(metadataRequests.length, 2, `${name}: the refresh was made`)
        yield* renew
        assert.deepStrictEqual(tokenRequests, Array(3).fill(`${ISSUER}/token/v1`), `${name}: the last good document`)
        assert.isTrue(warned.some((line) => line.includes("the last good document is kept")), name)
        published = documentOf(ISSUER, { token_endpoint: `${ISSUER}/token/v3` })
        yield* TestClock.adjust("59 seconds")
        yield* renew
        yield* settle
        assert.strictEqual(metadataRequests.length, 2, `${name}: tried again after the minimum, not before`)
        yield* TestClock.adjust("1 second")
        yield* renew
        yield* settle
        assert.strictEqual(metadataRequests.length, 3, `${name}: tried again after the minimum`)
        yield* renew
        assert.strictEqual(tokenRequests.at(-1), `${ISSUER}/token/v3`, `${name}: the fixed document`)
      }
    }))

  const warnings: Array<string> = []

  it.live("a failed refresh keeps the last good document, and tokens keep flowing", () =>
    Effect.gen(function*() {
      const server = yield* TokenServer.make()
      const tokens = yield* service({
        clients: { billing: clientBy(server.issuer) },
        metadataRefreshInterval: { default: "200 millis", minimum: "200 millis", maximum: "200 millis" }
      }, { retrySchedule: Schedule.recurs(1) })
      yield* tokens.getToken("billing")
      yield* server.setMetadataAvailable(false)
      yield* Effect.sleep("300 millis")
      const renewed = tokens.getToken("billing", { forceRenewal: true })
      // The document is due: this renewal uses the held one while its refresh fails in the background.
      yield* renewed
      // Waits (at most 10 s) for the refresh and its retry to have reached the server.
      const metadataRequests = yield* server.metadataRequestCount.pipe(
        Effect.filterOrFail((count) => count >= 3),
        Effect.retry({ schedule: Schedule.spaced("20 millis"), times: 500 }),
        Effect.orElse(() => server.metadataRequestCount)
      )
      assert.isAtLeast(metadataRequests, 3, "the first retrieval, then a refresh and its retry")
      yield* Effect.sleep("100 millis")
      yield* renewed
      assert.strictEqual(yield* server.tokenRequestCount, 3)
      assert.isTrue(warnings.some((line) => line.includes("the last good document is kept")))
    }).pipe(
      Effect.provide(
        Logger.replace(Logger.defaultLogger, Logger.make(({ message }) => warnings.push(String(message))))
      ),
      Effect.scoped
    ))
})
