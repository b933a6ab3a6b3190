/**
 * How a token failure reads, and what `retryTransient` makes of it, on a client of the
 * `HttpClient` tag; and how `withAccessToken` and the layers pick the client and its customisation.
 */
import { MutualTls, TokenError, TokenService } from "@access-token/core"
import { AccessTokenHttpClient } from "@access-token/platform"
import { HttpClient, HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { asHttpClient } from "../src/internal/clients.js"

/** A client of the tag whose authenticated client fails every request with `error`. */
const failingWith = (error: AccessTokenHttpClient.AccessTokenError, name: string | undefined) =>
  asHttpClient(HttpClient.makeWith(() => Effect.fail(error), Effect.succeed), name)

const failure = (error: AccessTokenHttpClient.AccessTokenError, name: string | undefined, url: string) =>
  Effect.flip(failingWith(error, name).get(url)).pipe(
    Effect.map((failure) => ({
      message: failure.message,
      reason: failure._tag === "RequestError" ? failure.reason : failure._tag,
      cause: failure.cause
    }))
  )

const URL = "https://api.example.com/orders"

describe("asHttpClient", () => {
  it.effect("a request refused as configured keeps its own message, and is InvalidUrl: no retry sends it", () =>
    Effect.gen(function*() {
      for (
        const error of [
          new AccessTokenHttpClient.OriginNotAllowedError({
            client: "api",
            origin: "https://other.example.com",
            allowed: ["https://api.example.com"]
          }),
          new AccessTokenHttpClient.InsecureTransportError({ client: "api", host: "api.example.com" })
        ]
      ) {
        const { cause, message, reason } = yield* failure(error, "api", URL)
        assert.strictEqual(reason, "InvalidUrl", error._tag)
        assert.strictEqual(cause, error)
        assert.strictEqual(message, `${error.message}; the API was not called (GET ${URL})`)
      }
    }))

  it.effect("a token the client has but may not send here keeps its own message, and is Encode", () =>
    Effect.gen(function*() {
      const error = new MutualTls.CertificateNotPresentedError({ client: "api", presentsAnother: false })
      const { message, reason } = yield* failure(error, "api", URL)
      assert.strictEqual(reason, "Encode")
      assert.strictEqual(message, `${error.message}; the API was not called (GET ${URL})`)
    }))

  it.effect("an unknown client is Encode: no retry registers it", () =>
    Effect.gen(function*() {
      const { message, reason } = yield* failure(
        new TokenError.UnknownClientError({ client: undefined, known: ["a", "b"] }),
        undefined,
        URL
      )
      assert.strictEqual(reason, "Encode")
      // No client to name up front: the token error's words, after "No token".
      assert.strictEqual(
        message,
        `No token: no client name was given and 2 clients are registered ("a", "b"): name one; ` +
          `the API was not called (GET ${URL})`
      )
    }))

  it.effect("names the client of the token error, or else the one the middleware was given", () =>
    Effect.gen(function*() {
      const resolution = new TokenError.ClientResolutionError({ client: "tenant-7", reason: "Died" })
      assert.strictEqual(
        (yield* failure(resolution, "api", URL)).message,
        `No token for client "tenant-7": the definition of client "tenant-7" could not be resolved: ` +
          `resolveClient failed unexpectedly (a defect: see the cause); the API was not called (GET ${URL})`
      )
      const unknown = new TokenError.UnknownClientError({ client: undefined, known: [] })
      assert.strictEqual(
        (yield* failure(unknown, "api", URL)).message,
        `No token for client "api": no client name was given and 0 clients are registered (none): name one; ` +
          `the API was not called (GET ${URL})`
      )
    }))

  it.effect("shows the path of the request as it is, only the userinfo before the host dropped", () =>
    Effect.gen(function*() {
      const error = new TokenError.TokenRefusedError({ client: "api", status: 401, error: "invalid_client" })
      const { message } = yield* failure(error, "api", "https://api.example.com/mirror/s3://bucket@eu/file")
      assert.isTrue(message.endsWith("(GET https://api.example.com/mirror/s3://bucket@eu/file)"), message)
    }))
})

describe("withAccessToken and the layers", () => {
  const tokens = TokenService.layerTest({ a: "token-a", b: "token-b" })

  const recording = () => {
    const seen: Array<Record<string, string>> = []
    const client = HttpClient.make((request) =>
      Effect.sync(() => {
        seen.push({ ...request.headers })
        return HttpClientResponse.fromWeb(request, new Response("{}"))
      })
    )
    return { seen, client }
  }

  it.effect("a client name given as a string picks that client's token among several", () =>
    Effect.gen(function*() {
      const api = recording()
      yield* api.client.pipe(AccessTokenHttpClient.withAccessToken("b")).get(URL)
      yield* AccessTokenHttpClient.withAccessToken(api.client, "a").get(URL)
      assert.deepStrictEqual(api.seen.map((headers) => headers.authorization), ["Bearer token-b", "Bearer token-a"])
    }).pipe(Effect.provide(tokens)))

  it.effect("a layer's transformClient customises the client the token is sent through", () =>
    Effect.gen(function*() {
      const api = recording()
      const client = yield* Effect.provide(
        HttpClient.HttpClient,
        AccessTokenHttpClient.layer({
          client: "a",
          transformClient: HttpClient.mapRequest(HttpClientRequest.setHeader("x-tenant", "7"))
        }).pipe(Layer.provide([tokens, Layer.succeed(HttpClient.HttpClient, api.client)]))
      )
      yield* client.get(URL)
      assert.strictEqual(api.seen[0]?.["x-tenant"], "7")
      assert.strictEqual(api.seen[0]?.authorization, "Bearer token-a")
    }))
})
