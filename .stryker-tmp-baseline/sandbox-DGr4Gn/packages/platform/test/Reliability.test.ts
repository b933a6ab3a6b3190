/**
 * The middleware over real sockets: faults of the token endpoint and of the API reach the caller
 * as typed errors, and the token goes only to the origins the client is bound to, whatever the
 * URL, the base URL or the redirects say.
 */
// @ts-nocheck

import { ClientCredentialsClient, TokenCache, TokenEndpointClient, TokenError, TokenService } from "@access-token/core"
import { AccessTokenHttpClient } from "@access-token/platform"
import { LoopbackServer } from "@access-token/testing"
import { FetchHttpClient, HttpClient, HttpClientError, HttpClientRequest } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Context, Effect, Exit, Layer, Option, Redacted, Schedule, Tracer } from "effect"
import type { Scope } from "effect"

interface Received {
  readonly method: string
  readonly url: string
  readonly authorization: string | undefined
  readonly body: string
}

interface Answer {
  readonly status: number
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: string
  /** Drops the connection instead of answering. */
  readonly destroy?: boolean
}

/** A server on `127.0.0.1` (its own port, so its own origin) that records what it receives. */
interface Loopback {
  readonly origin: string
  readonly received: ReadonlyArray<Received>
  answer: (request: Received, n: number) => Answer
  readonly close: Effect.Effect<void>
}

const loopback = (answer: Loopback["answer"]): Effect.Effect<Loopback, never, Scope.Scope> =>
  Effect.gen(function*() {
    const received: Array<Received> = []
    const server = yield* LoopbackServer.make((request, response) => {
      const entry: Received = {
        method: request.method,
        url: request.url,
        authorization: request.headers.authorization,
        body: request.body
      }
      received.push(entry)
      const reply = self.answer(entry, received.length)
      if (reply.destroy === true) {
        response.socket?.destroy()
        return
      }
      response.writeHead(reply.status, reply.headers ?? {})
      response.end(reply.body ?? "")
    })
    const self: Loopback = { origin: server.origin, received, answer, close: server.refuse }
    return self
  })

const ok: Answer = { status: 200, headers: { "content-type": "text/plain" }, body: "ok" }

/** A token endpoint on loopback that issues `token-<n>`, unless told to fail. */
const tokenEndpoint = Effect.gen(function*() {
  const state = { failing: false }
  const server = yield* loopback((_, n) =>
    state.failing
      ? { status: 500, headers: { "content-type": "text/plain" }, body: "down" }
      : {
        status: 200,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ access_token: `token-${n}`, token_type: "Bearer", expires_in: 3600 })
      }
  )
  return { server, state, url: `${server.origin}/connect/token` }
})

const endpointLayer = TokenEndpointClient.layer({
  requestTimeout: "500 millis",
  retrySchedule: Schedule.spaced("10 millis").pipe(Schedule.intersect(Schedule.recurs(1)))
}).pipe(Layer.provide(NodeHttpClient.layerUndici))

/** The token service for one client `api` at `url`, on the real endpoint client. */
const tokenService = (url: string) =>
  Effect.gen(function*() {
    const layer = TokenService.layer({
      clients: { api: { tokenEndpoint: url, clientId: "worker", clientSecret: Redacted.make("secret") } }
    }).pipe(Layer.provide([endpointLayer, TokenCache.layerMemory()]), Layer.orDie)
    return Context.get(yield* Layer.build(layer), TokenService.TokenService)
  })

/** An authenticated `HttpClient` on undici, with the given options. */
const authenticated = (tokens: TokenService.TokenService.Service, options: AccessTokenHttpClient.Options) =>
  Effect.map(
    Layer.build(NodeHttpClient.layerUndici),
    (context) => AccessTokenHttpClient.make(Context.get(context, HttpClient.HttpClient), tokens, options)
  )

/** The client `AccessTokenHttpClient.layer` provides, on undici. */
const layered = (tokens: TokenService.TokenService.Service, options: AccessTokenHttpClient.LayerOptions) =>
  Layer.build(
    AccessTokenHttpClient.layer(options).pipe(
      Layer.provide(NodeHttpClient.layerUndici),
      Layer.provide(Layer.succeed(TokenService.TokenService, tokens))
    )
  ).pipe(Effect.map(Context.get(HttpClient.HttpClient)))

const typedFailure = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) return assert.fail("expected a typed error, got a response")
  assert.isTrue(Cause.isFailType(exit.cause), Cause.pretty(exit.cause))
  return (exit.cause as Cause.Fail<E>).error
}

describe("AccessTokenHttpClient when the token endpoint fails", () => {
  it.scopedLive("no token, no request: the caller gets the typed error and the API sees nothing", () =>
    Effect.gen(function*() {
      const auth = yield* tokenEndpoint
      const api = yield* loopback(() => ok)
      const tokens = yield* tokenService(auth.url)
      yield* auth.server.close // connections refused from now on
      const client = yield* authenticated(tokens, { client: "api" })
      const error = typedFailure(yield* Effect.exit(client.get(`${api.origin}/test`)))
      assert.isTrue(TokenError.isTokenError(error), String(error))
      assert.strictEqual((error as TokenError.TokenTransportError).reason, "Connect")

      // Through `layer`, the same error is the cause of a RequestError.
      const viaLayer = yield* layered(tokens, { client: "api", baseUrl: api.origin })
      const requestError = typedFailure(yield* Effect.exit(viaLayer.get("/test")))
      assert.strictEqual(requestError._tag, "RequestError")
      assert.strictEqual(
        ((requestError as HttpClientError.RequestError).cause as { _tag: string })._tag,
        "TokenTransportError"
      )
      assert.strictEqual(api.received.length, 0)
    }))

  it.scopedLive("a 401 whose renewal fails ends in the typed error after one API request", () =>
    Effect.gen(function*() {
      const auth = yield* tokenEndpoint
      const api = yield* loopback(() => ok)
      const client = yield* authenticated(yield* tokenService(auth.url), { client: "api" })
      assert.strictEqual((yield* client.get(`${api.origin}/a`)).status, 200)
      // token-1 is revoked, and the token endpoint fails when it is renewed.
      api.answer = () => ({ status: 401 })
      auth.state.failing = true
      const error = typedFailure(yield* Effect.exit(client.get(`${api.origin}/b`)))
      assert.strictEqual((error as TokenError.InvalidTokenResponseError)._tag, "InvalidTokenResponseError")
      assert.deepStrictEqual(api.received.map((r) => r.authorization), ["Bearer token-1", "Bearer token-1"])
      auth.state.failing = false
      api.answer = () => ok
      const recovered = yield* client.get(`${api.origin}/c`)
      assert.strictEqual(recovered.status, 200)
      assert.match(api.received.at(-1)?.authorization ?? "", /^Bearer token-\d+$/)
    }))

  it.scopedLive("an API that drops the connection is a transport error, and the token is not renewed", () =>
    Effect.gen(function*() {
      const auth = yield* tokenEndpoint
      const api = yield* loopback(() => ({ status: 0, destroy: true }))
      const client = yield* authenticated(yield* tokenService(auth.url), { client: "api" })
      const error = typedFailure(yield* Effect.exit(client.get(`${api.origin}/test`)))
      assert.isTrue(HttpClientError.isHttpClientError(error))
      assert.strictEqual(auth.server.received.length, 1)
    }))
})

describe("AccessTokenHttpClient binds the token to its origins", () => {
  const setup = Effect.gen(function*() {
    const auth = yield* tokenEndpoint
    const a = yield* loopback(() => ok)
    const b = yield* loopback(() => ok)
    const tokens = yield* tokenService(auth.url)
    return { a, b, tokens }
  })

  it.scopedLive("allowedOrigins: another port on the same host is another origin and gets nothing", () =>
    Effect.gen(function*() {
      const { a, b, tokens } = yield* setup
      const client = yield* authenticated(tokens, { client: "api", allowedOrigins: [a.origin] })
      assert.strictEqual((yield* client.get(`${a.origin}/x`)).status, 200)
      const error = typedFailure(yield* Effect.exit(client.get(`${b.origin}/x`)))
      assert.strictEqual(error._tag, "OriginNotAllowedError")
      assert.deepStrictEqual(a.received.map((r) => r.authorization), ["Bearer token-1"])
      assert.strictEqual(b.received.length, 0)
    }))

  it.scopedLive("a base URL binds the token to its origin; absolute URLs elsewhere are refused", () =>
    Effect.gen(function*() {
      const { a, b, tokens } = yield* setup
      const client = yield* layered(tokens, { client: "api", baseUrl: `${a.origin}/v1/` })
      assert.strictEqual((yield* client.get("items")).status, 200)
      assert.strictEqual(a.received[0].url, "/v1/items")
      assert.strictEqual(a.received[0].authorization, "Bearer token-1")
      const error = typedFailure(yield* Effect.exit(client.get(`${b.origin}/items`)))
      assert.strictEqual(error._tag, "RequestError")
      assert.strictEqual(
        ((error as HttpClientError.RequestError).cause as { _tag: string })._tag,
        "OriginNotAllowedError"
      )
      assert.strictEqual(b.received.length, 0)
    }))

  it.scopedLive("a path that moves the request to another host once the base URL is prepended gets no token", () =>
    Effect.gen(function*() {
      const { a, b, tokens } = yield* setup
      // Without a trailing slash, "http://127.0.0.1:A" + "@127.0.0.1:B/x" names host B.
      const client = yield* layered(tokens, { client: "api", baseUrl: a.origin })
      const error = typedFailure(yield* Effect.exit(client.get(`@${new URL(b.origin).host}/x`)))
      assert.strictEqual(
        ((error as HttpClientError.RequestError).cause as { _tag: string })._tag,
        "OriginNotAllowedError"
      )
      assert.strictEqual(b.received.length, 0)
      assert.strictEqual(a.received.length, 0)
    }))

  it.scopedLive("redirects are not followed by default: the 3xx goes back and the other origin sees nothing", () =>
    Effect.gen(function*() {
      const { a, b, tokens } = yield* setup
      a.answer = () => ({ status: 302, headers: { location: `${b.origin}/landing` } })
      const client = yield* authenticated(tokens, { client: "api", allowedOrigins: [a.origin] })
      assert.strictEqual((yield* client.get(`${a.origin}/x`)).status, 302)
      assert.strictEqual(b.received.length, 0)
    }))

  for (
    const [name, options] of [
      ["bound to its origin", (a: Loopback) => ({ allowedOrigins: [a.origin] })],
      ["bound to no origin (the first request's origin counts)", () => ({})]
    ] as const
  ) {
    it.scopedLive(`followRedirects, ${name}: a cross-origin hop carries no Authorization header`, () =>
      Effect.gen(function*() {
        const { a, b, tokens } = yield* setup
        a.answer = (request) =>
          request.url === "/start"
            ? { status: 302, headers: { location: "/same-origin" } }
            : request.url === "/same-origin"
            ? { status: 307, headers: { location: `${b.origin}/elsewhere` } }
            : ok
        b.answer = () => ({ status: 303, headers: { location: `${a.origin}/back` } })
        const client = yield* authenticated(tokens, { client: "api", followRedirects: 5, ...options(a) })
        const response = yield* client.execute(
          HttpClientRequest.post(`${a.origin}/start`).pipe(HttpClientRequest.bodyText("payload"))
        )
        assert.strictEqual(response.status, 200)
        assert.deepStrictEqual(a.received.map((r) => [r.url, r.authorization]), [
          ["/start", "Bearer token-1"],
          ["/same-origin", "Bearer token-1"],
          ["/back", "Bearer token-1"]
        ])
        assert.deepStrictEqual(b.received.map((r) => [r.method, r.url, r.authorization, r.body]), [
          ["POST", "/elsewhere", undefined, "payload"]
        ])
      }))
  }

  it.scopedLive("fetch following redirects itself drops the Authorization header on a cross-origin hop", () =>
    Effect.gen(function*() {
      const { a, b, tokens } = yield* setup
      a.answer = () => ({ status: 302, headers: { location: `${b.origin}/landing` } })
      const client = yield* Effect.map(
        HttpClient.HttpClient,
        (client) => AccessTokenHttpClient.make(client, tokens, { client: "api" })
      ).pipe(Effect.provide(FetchHttpClient.layer))
      assert.strictEqual((yield* client.get(`${a.origin}/x`)).status, 200)
      assert.strictEqual(a.received[0].authorization, "Bearer token-1")
      assert.deepStrictEqual(b.received.map((r) => r.authorization), [undefined])
    }))

  it.scopedLive("the HttpClient's span of an API request shows the Authorization header redacted", () =>
    Effect.gen(function*() {
      const { a, tokens } = yield* setup
      const spans: Array<{ name: string; attributes: Map<string, unknown> }> = []
      const tracer = Tracer.make({
        span: (name, parent, context, links, startTime, kind) => {
          const attributes = new Map<string, unknown>()
          spans.push({ name, attributes })
          return {
            _tag: "Span",
            name,
            spanId: String(spans.length),
            traceId: "trace",
            parent,
            context,
            status: { _tag: "Started", startTime },
            attributes,
            links,
            sampled: true,
            kind,
            end: () => {},
            attribute: (key, value) => attributes.set(key, value),
            event: () => {},
            addLinks: () => {}
          }
        },
        context: (f) => f()
      })
      const client = yield* authenticated(tokens, { client: "api" })
      yield* client.get(`${a.origin}/x`).pipe(Effect.withTracer(tracer))
      assert.strictEqual(a.received[0].authorization, "Bearer token-1")
      const api = spans.filter((span) => span.name.startsWith("http.client") && span.attributes.has("url.full"))
        .filter((span) => String(span.attributes.get("url.full")).startsWith(a.origin))
      assert.strictEqual(api.length, 1)
      assert.strictEqual(api[0].attributes.get("http.request.header.authorization"), "<redacted>")
      for (const span of spans) {
        for (const value of span.attributes.values()) assert.notInclude(String(value), "token-1")
      }
    }))
})

describe("the token endpoint must not be plain http off loopback", () => {
  /** An HttpClient that delivers requests for `auth.internal.example` to a loopback server. */
  const rerouted = (origin: string) =>
    Layer.effect(
      HttpClient.HttpClient,
      Effect.map(HttpClient.HttpClient, (client) =>
        HttpClient.mapRequest(client, (request) => {
          const url = new URL(request.url)
          return url.hostname === "auth.internal.example"
            ? HttpClientRequest.setUrl(request, `${origin}${url.pathname}`)
            : request
        }))
    ).pipe(Layer.provide(NodeHttpClient.layerUndici))

  it.scopedLive("is refused before any byte is sent, unless allowInsecureTransport is set", () =>
    Effect.gen(function*() {
      const auth = yield* tokenEndpoint
      const endpoint = TokenEndpointClient.layer().pipe(Layer.provide(rerouted(auth.server.origin)))
      const service = (allowInsecureTransport: boolean) =>
        TokenService.layer({
          clients: {
            api: {
              tokenEndpoint: "http://auth.internal.example/connect/token",
              clientId: "worker",
              clientSecret: Redacted.make("secret"),
              allowInsecureTransport
            }
          }
        }).pipe(Layer.provide([endpoint, TokenCache.layerMemory()]))

      const refused = typedFailure(yield* Effect.exit(Layer.build(service(false))))
      assert.strictEqual(refused._tag, "ClientConfigurationError")
      assert.include(refused.message, "allowInsecureTransport")

      // A definition that skipped validation is still checked before the request is made.
      const unchecked = new ClientCredentialsClient.ClientCredentialsClient({
        name: "api",
        tokenEndpoint: "http://auth.internal.example/connect/token",
        clientId: "worker",
        clientSecret: Redacted.make("secret"),
        credentialStyle: "header",
        allowInsecureTransport: false
      })
      const direct = yield* Layer.build(endpoint).pipe(Effect.map(Context.get(TokenEndpointClient.TokenEndpointClient)))
      const error = typedFailure(yield* Effect.exit(direct.requestToken(unchecked)))
      assert.strictEqual(error._tag, "ClientConfigurationError")
      assert.strictEqual(auth.server.received.length, 0)

      const allowed = yield* Layer.build(service(true)).pipe(Effect.map(Context.get(TokenService.TokenService)))
      const token = yield* allowed.getToken("api")
      assert.strictEqual(Redacted.value(token.value), "token-1")
      assert.strictEqual(auth.server.received.length, 1)
      assert.isTrue(Option.isNone(Option.fromNullable(auth.server.received[0].body.match(/secret/))))
    }))
})
