// @ts-nocheck
import { AccessToken, TokenCache, TokenEndpointClient, TokenError, TokenService } from "@access-token/core"
import { AccessTokenHttpClient } from "@access-token/platform"
import { LoopbackServer } from "@access-token/testing"
import {
  FetchHttpClient,
  HttpBody,
  HttpClient,
  HttpClientError,
  HttpClientRequest,
  HttpClientResponse
} from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Deferred, Duration, Effect, Fiber, Layer, Redacted, Stream } from "effect"

/** A token endpoint stand-in: counts requests and hands out `token-<n>`. */
class Tokens {
  requests = 0
  fail = false
  readonly layer: Layer.Layer<TokenService.TokenService, never, never>

  constructor(clients: ReadonlyArray<string> = ["api"]) {
    const endpoint = TokenEndpointClient.layerTest((client) =>
      Effect.suspend(() => {
        const n = ++this.requests
        if (this.fail) {
          return Effect.fail(
            new TokenError.TokenRefusedError({ client: client.name, status: 401, error: "invalid_client" })
          )
        }
        return Effect.map(DateTime.now, (receivedAt) =>
          AccessToken.make({ value: `${client.name}-token-${n}`, receivedAt, expiresIn: Duration.hours(1) }))
      })
    )
    this.layer = TokenService.layer({
      clients: Object.fromEntries(clients.map((name) => [name, {
        tokenEndpoint: "https://auth.example.com/token",
        clientId: name,
        clientSecret: Redacted.make("secret")
      }]))
    }).pipe(Layer.provide(Layer.merge(endpoint, TokenCache.layerMemory())), Layer.orDie)
  }
}

/** An API stand-in: records the Authorization header of each request and answers with `status`. */
class Api {
  readonly seen: Array<string | undefined> = []
  status: (authorization: string | undefined, n: number) => number = () => 200
  gate: Deferred.Deferred<void> | undefined = undefined

  readonly client = HttpClient.make((request) =>
    Effect.suspend(() => {
      const authorization = request.headers.authorization
      this.seen.push(authorization)
      const status = this.status(authorization, this.seen.length)
      const respond = Effect.succeed(HttpClientResponse.fromWeb(request, new Response("{}", { status })))
      return this.gate === undefined ? respond : Effect.zipRight(Deferred.await(this.gate), respond)
    })
  )
}

const authenticated = (api: Api, options?: string | AccessTokenHttpClient.Options) =>
  api.client.pipe(AccessTokenHttpClient.withAccessToken(options))

describe("AccessTokenHttpClient.withAccessToken", () => {
  it.effect("sends the token in the Authorization header and fetches it once for many requests", () => {
    const tokens = new Tokens()
    return Effect.gen(function*() {
      const api = new Api()
      const client = authenticated(api, "api")
      for (let i = 0; i < 20; i++) {
        const response = yield* client.get("https://api.example.com/test")
        assert.strictEqual(response.status, 200)
      }
      assert.deepStrictEqual(new Set(api.seen), new Set(["Bearer api-token-1"]))
      assert.strictEqual(tokens.requests, 1)
    }).pipe(Effect.provide(tokens.layer))
  })

  it.effect("on 401 renews the token and sends the request once more", () => {
    const tokens = new Tokens()
    return Effect.gen(function*() {
      const api = new Api()
      api.status = (authorization) => authorization === "Bearer api-token-1" ? 401 : 200
      const response = yield* authenticated(api, "api").get("https://api.example.com/test")
      assert.strictEqual(response.status, 200)
      assert.deepStrictEqual(api.seen, ["Bearer api-token-1", "Bearer api-token-2"])
      assert.strictEqual(tokens.requests, 2)
    }).pipe(Effect.provide(tokens.layer))
  })

  it.effect("returns a second 401 to the caller, after exactly two token requests", () => {
    const tokens = new Tokens()
    return Effect.gen(function*() {
      const api = new Api()
      api.status = () => 401
      const response = yield* authenticated(api).get("https://api.example.com/test")
      assert.strictEqual(response.status, 401)
      assert.strictEqual(api.seen.length, 2)
      assert.strictEqual(tokens.requests, 2)
    }).pipe(Effect.provide(tokens.layer))
  })

  it.effect("does not resend a request whose body is a stream, but renews the token it carried", () => {
    const tokens = new Tokens()
    return Effect.gen(function*() {
      const api = new Api()
      // The first token is revoked: the API accepts any other.
      api.status = (authorization) => authorization === "Bearer api-token-1" ? 401 : 200
      const upload = () =>
        HttpClientRequest.post("https://api.example.com/upload").pipe(
          HttpClientRequest.setBody(HttpBody.stream(Stream.make(new TextEncoder().encode("data"))))
        )
      const client = authenticated(api)
      const response = yield* client.execute(upload())
      assert.strictEqual(response.status, 401)
      assert.deepStrictEqual(api.seen, ["Bearer api-token-1"])
      assert.strictEqual(tokens.requests, 2)
      // The next upload carries the renewed token, and nothing is sent twice.
      assert.strictEqual((yield* client.execute(upload())).status, 200)
      assert.deepStrictEqual(api.seen, ["Bearer api-token-1", "Bearer api-token-2"])
      assert.strictEqual(tokens.requests, 2)
    }).pipe(Effect.provide(tokens.layer))
  })

  it.effect("renews the token of a stream request once for many rejections of it", () => {
    const tokens = new Tokens()
    return Effect.gen(function*() {
      const api = new Api()
      api.status = () => 401
      const upload = HttpClientRequest.post("https://api.example.com/upload").pipe(
        HttpClientRequest.setBody(HttpBody.stream(Stream.make(new TextEncoder().encode("data"))))
      )
      const client = authenticated(api)
      const responses = yield* Effect.forEach(Array.from({ length: 10 }), () => client.execute(upload))
      assert.deepStrictEqual(responses.map((response) => response.status), Array(10).fill(401))
      assert.strictEqual(api.seen.length, 10)
      // One renewal of the first token; its successor, rejected too, starts the guard's backoff.
      assert.strictEqual(tokens.requests, 2)
    }).pipe(Effect.provide(tokens.layer))
  })

  it.effect("resends a request with a JSON body", () => {
    const tokens = new Tokens()
    return Effect.gen(function*() {
      const api = new Api()
      api.status = (_, n) => n === 1 ? 401 : 200
      const request = yield* HttpClientRequest.post("https://api.example.com/items").pipe(
        HttpClientRequest.bodyJson({ a: 1 })
      )
      const response = yield* authenticated(api).execute(request)
      assert.strictEqual(response.status, 200)
      assert.strictEqual(api.seen.length, 2)
    }).pipe(Effect.provide(tokens.layer))
  })

  it.effect("50 concurrent requests rejected together cause one renewal", () => {
    const tokens = new Tokens()
    return Effect.gen(function*() {
      const api = new Api()
      const client = authenticated(api)
      yield* client.get("https://api.example.com/warm")
      api.status = (authorization) => authorization === "Bearer api-token-1" ? 401 : 200
      api.gate = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(
        Effect.all(Array.from({ length: 50 }, () => client.get("https://api.example.com/test")), {
          concurrency: "unbounded"
        })
      )
      yield* Effect.repeatN(Effect.yieldNow(), 10)
      yield* Deferred.succeed(api.gate, void 0)
      const responses = yield* Fiber.join(fiber)
      assert.isTrue(responses.every((response) => response.status === 200))
      assert.strictEqual(tokens.requests, 2)
    }).pipe(Effect.provide(tokens.layer))
  })

  it.effect("renews on a 401 turned into an error by filterStatusOk inside it", () => {
    const tokens = new Tokens()
    return Effect.gen(function*() {
      const api = new Api()
      api.status = (_, n) => n === 1 ? 401 : 200
      const client = api.client.pipe(HttpClient.filterStatusOk, AccessTokenHttpClient.withAccessToken())
      const response = yield* client.get("https://api.example.com/test")
      assert.strictEqual(response.status, 200)
      assert.strictEqual(tokens.requests, 2)
    }).pipe(Effect.provide(tokens.layer))
  })

  it.effect("fails with the token error and never calls the API without a token", () => {
    const tokens = new Tokens()
    tokens.fail = true
    return Effect.gen(function*() {
      const api = new Api()
      const error = yield* Effect.flip(authenticated(api).get("https://api.example.com/test"))
      assert.strictEqual(error._tag, "TokenRefusedError")
      assert.strictEqual(api.seen.length, 0)
    }).pipe(Effect.provide(tokens.layer))
  })

  it.effect("refuses to send the token to an origin it is not bound to", () =>
    Effect.gen(function*() {
      const api = new Api()
      const client = authenticated(api, { allowedOrigins: ["https://api.example.com"] })
      const ok = yield* client.get("https://api.example.com/test")
      assert.strictEqual(ok.status, 200)
      const error = yield* Effect.flip(client.get("https://evil.example.com/test"))
      assert.strictEqual(error._tag, "OriginNotAllowedError")
      assert.strictEqual(
        error.message,
        "Refused to send the access token to https://evil.example.com: it is bound to https://api.example.com"
      )
      const sameHostOtherPort = yield* Effect.flip(client.get("https://api.example.com:8443/test"))
      assert.strictEqual(sameHostOtherPort._tag, "OriginNotAllowedError")
      assert.strictEqual(api.seen.length, 1)
    }).pipe(Effect.provide(new Tokens().layer)))

  it.effect("composes with retryTransient on either side", () => {
    const tokens = new Tokens()
    return Effect.gen(function*() {
      const api = new Api()
      api.status = (_, n) => n === 1 ? 503 : 200
      const outside = authenticated(api).pipe(HttpClient.retryTransient({ times: 2, mode: "response-only" }))
      assert.strictEqual((yield* outside.get("https://api.example.com/a")).status, 200)
      api.seen.length = 0
      const inside = api.client.pipe(
        HttpClient.retryTransient({ times: 2, mode: "response-only" }),
        AccessTokenHttpClient.withAccessToken()
      )
      assert.strictEqual((yield* inside.get("https://api.example.com/b")).status, 200)
      assert.deepStrictEqual(api.seen, ["Bearer api-token-1", "Bearer api-token-1"])
      assert.strictEqual(tokens.requests, 1)
    }).pipe(Effect.provide(tokens.layer))
  })
})

describe("AccessTokenHttpClient layers", () => {
  it.effect("layer provides an authenticated HttpClient with a base URL bound to its origin", () => {
    const tokens = new Tokens()
    const api = new Api()
    const layer = AccessTokenHttpClient.layer({ client: "api", baseUrl: "https://api.example.com/v1/" }).pipe(
      Layer.provide(Layer.merge(tokens.layer, Layer.succeed(HttpClient.HttpClient, api.client)))
    )
    return Effect.gen(function*() {
      const client = yield* HttpClient.HttpClient
      const response = yield* client.get("test")
      assert.strictEqual(response.request.url, "https://api.example.com/v1/test")
      assert.deepStrictEqual(api.seen, ["Bearer api-token-1"])
      const error = yield* Effect.flip(client.get("https://other.example.com/"))
      assert.strictEqual(error._tag, "RequestError")
      assert.strictEqual((error.cause as AccessTokenHttpClient.OriginNotAllowedError)._tag, "OriginNotAllowedError")
    }).pipe(Effect.provide(layer))
  })

  it.effect("layer reports a token failure as a RequestError caused by the typed error", () => {
    const tokens = new Tokens()
    tokens.fail = true
    const api = new Api()
    const layer = AccessTokenHttpClient.layer({ baseUrl: "https://api.example.com/" }).pipe(
      Layer.provide(Layer.merge(tokens.layer, Layer.succeed(HttpClient.HttpClient, api.client)))
    )
    return Effect.gen(function*() {
      const client = yield* HttpClient.HttpClient
      const error = yield* Effect.flip(client.get("test"))
      assert.isTrue(HttpClientError.isHttpClientError(error))
      assert.strictEqual((error.cause as TokenError.TokenRefusedError)._tag, "TokenRefusedError")
      assert.include(error.message, "invalid_client")
      assert.strictEqual(api.seen.length, 0)
    }).pipe(Effect.provide(layer))
  })

  it.effect("Tag declares typed clients side by side, each with its own token client", () => {
    class Billing extends AccessTokenHttpClient.Tag("test/Billing")<Billing>() {}
    class Orders extends AccessTokenHttpClient.Tag("test/Orders")<Orders>() {}
    const tokens = new Tokens(["billing", "orders"])
    const api = new Api()
    const layer = Layer.mergeAll(
      Billing.layer({ client: "billing", baseUrl: "https://billing.example.com/" }),
      Orders.layer({ client: "orders", baseUrl: "https://orders.example.com/" })
    ).pipe(Layer.provide(Layer.merge(tokens.layer, Layer.succeed(HttpClient.HttpClient, api.client))))
    return Effect.gen(function*() {
      const billing = yield* Billing
      const orders = yield* Orders
      yield* billing.get("invoices")
      yield* orders.get("orders")
      assert.deepStrictEqual(api.seen, ["Bearer billing-token-1", "Bearer orders-token-2"])
      const error = yield* Effect.flip(billing.get("https://orders.example.com/orders"))
      assert.strictEqual(error._tag, "OriginNotAllowedError")
    }).pipe(Effect.provide(layer))
  })
})

/** A loopback server that records the Authorization header of every request it gets. */
const recordingServer = (handler: LoopbackServer.Handler) =>
  Effect.map(LoopbackServer.make(handler), (server) => ({
    origin: server.origin,
    get seen() {
      return server.requests.map((request) => request.headers.authorization)
    }
  }))

describe("AccessTokenHttpClient redirects", () => {
  const redirectPair = Effect.gen(function*() {
    const target = yield* recordingServer((_, response) => response.end("target"))
    const source = yield* recordingServer((request, response) => {
      const location = request.url === "/same" ? "/landing" : `${target.origin}/landing`
      response.writeHead(302, { location }).end()
    })
    return { source, target }
  })

  it.scoped("a cross-origin redirect followed by the middleware does not carry the token", () =>
    Effect.gen(function*() {
      const { source, target } = yield* redirectPair
      const client = (yield* HttpClient.HttpClient).pipe(
        AccessTokenHttpClient.withAccessToken({ followRedirects: 3 })
      )
      const response = yield* client.get(`${source.origin}/elsewhere`)
      assert.strictEqual(yield* response.text, "target")
      assert.deepStrictEqual(source.seen, ["Bearer api-token-1"])
      assert.deepStrictEqual(target.seen, [undefined])
      const same = yield* client.get(`${source.origin}/same`)
      assert.strictEqual(yield* same.text, "target")
      assert.deepStrictEqual(source.seen, ["Bearer api-token-1", "Bearer api-token-1", "Bearer api-token-1"])
      assert.deepStrictEqual(target.seen, [undefined, undefined])
    }).pipe(Effect.provide(Layer.merge(new Tokens().layer, NodeHttpClient.layerUndici))))

  it.scoped("a redirect the transport follows (fetch) does not carry the token to another origin", () =>
    Effect.gen(function*() {
      const { source, target } = yield* redirectPair
      const client = (yield* HttpClient.HttpClient).pipe(AccessTokenHttpClient.withAccessToken())
      const response = yield* client.get(`${source.origin}/elsewhere`)
      assert.strictEqual(yield* response.text, "target")
      assert.deepStrictEqual(source.seen, ["Bearer api-token-1"])
      assert.deepStrictEqual(target.seen, [undefined])
    }).pipe(Effect.provide(Layer.merge(new Tokens().layer, FetchHttpClient.layer))))
})
