// @ts-nocheck
import { TokenError, TokenService } from "@access-token/core"
import { AccessTokenHttpClient } from "@access-token/platform"
import { HttpClient, HttpClientResponse } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Config, ConfigProvider, Effect, Exit, Layer } from "effect"

/** An API stand-in: records the URL and Authorization header of each request, answers `200`. */
const fakeApi = () => {
  const seen: Array<{ readonly url: string; readonly authorization: string | undefined }> = []
  const client = HttpClient.make((request) =>
    Effect.sync(() => {
      seen.push({ url: request.url, authorization: request.headers.authorization })
      return HttpClientResponse.fromWeb(request, new Response("ok", { status: 200 }))
    })
  )
  return { seen, layer: Layer.succeed(HttpClient.HttpClient, client) }
}

const refused = (client: string) =>
  Effect.fail(new TokenError.TokenRefusedError({ client, status: 401, error: "invalid_client" }))

const environment = (entries: ReadonlyArray<readonly [string, string]>) =>
  ConfigProvider.fromMap(new Map(entries), { pathDelim: "_" })

describe("AccessTokenHttpClient.layerConfig", () => {
  it.effect("reads the base URL from the environment, beside plain options", () => {
    const api = fakeApi()
    const Api = AccessTokenHttpClient.layerConfig({ client: "api", baseUrl: Config.string("API_BASE_URL") }).pipe(
      Layer.provide([TokenService.layerTest({ api: "token-a" }), api.layer])
    )
    return Effect.gen(function*() {
      const client = yield* HttpClient.HttpClient
      yield* client.get("test")
      // Bound to the base URL's origin, as with `layer`.
      const elsewhere = yield* Effect.flip(client.get("https://other.example.com/"))
      assert.strictEqual(elsewhere._tag, "RequestError")
      assert.deepStrictEqual(api.seen, [{ url: "https://api.example.com/v1/test", authorization: "Bearer token-a" }])
    }).pipe(
      Effect.provide(Api),
      Effect.withConfigProvider(environment([["API_BASE_URL", "https://api.example.com/v1/"]]))
    )
  })

  it.effect("Tag.layerConfig builds a typed client the same way", () => {
    class Billing extends AccessTokenHttpClient.Tag("test/LayersBilling")<Billing>() {}
    const api = fakeApi()
    const Api = Billing.layerConfig({
      client: "billing",
      baseUrl: Config.string("BILLING_BASE_URL"),
      scope: "invoices"
    }).pipe(
      Layer.provide([TokenService.layerTest((client, { scope }) => `${client}-${scope}`), api.layer])
    )
    return Effect.gen(function*() {
      yield* (yield* Billing).get("invoices")
      assert.deepStrictEqual(api.seen, [{
        url: "https://billing.example.com/invoices",
        authorization: "Bearer billing-invoices"
      }])
    }).pipe(
      Effect.provide(Api),
      Effect.withConfigProvider(environment([["BILLING_BASE_URL", "https://billing.example.com/"]]))
    )
  })
})

describe("AccessTokenHttpClient.layer: a token failure", () => {
  it.effect("leads with the client that has no token and why, the request it held back last", () => {
    const api = fakeApi()
    const Api = AccessTokenHttpClient.layer({ client: "api", baseUrl: "https://api.example.com/" }).pipe(
      Layer.provide([TokenService.layerTest(refused), api.layer])
    )
    return Effect.gen(function*() {
      const error = yield* Effect.flip((yield* HttpClient.HttpClient).get("test", { urlParams: { page: "2" } }))
      assert.strictEqual(error._tag, "RequestError")
      assert.instanceOf(error.cause, TokenError.TokenRefusedError)
      assert.strictEqual(
        error.message,
        `No token for client "api": the token endpoint refused it with invalid_client (HTTP 401); ` +
          `the API was not called (GET https://api.example.com/test)`
      )
      assert.strictEqual(api.seen.length, 0)
    }).pipe(Effect.provide(Api))
  })

  it.effect("says so for each kind of failure, in the words of the token error", () => {
    const failures: Record<string, TokenError.TokenError> = {
      transport: new TokenError.TokenTransportError({
        client: "api",
        reason: "Connect",
        endpoint: "https://auth.example.com/token",
        description: "connection refused"
      }),
      unknown: new TokenError.UnknownClientError({ client: "unknown", known: ["api"] }),
      invalid: new TokenError.InvalidTokenResponseError({
        client: "invalid",
        status: 200,
        contentType: "text/html",
        reason: "not JSON",
        body: "<html>"
      })
    }
    const message = (client: string) =>
      Effect.flatMap(HttpClient.HttpClient, (http) => Effect.flip(http.get(`https://api.example.com/${client}`))).pipe(
        Effect.map((error) => error.message),
        Effect.provide(
          AccessTokenHttpClient.layer({ client }).pipe(
            Layer.provide([TokenService.layerTest((client) => Effect.fail(failures[client]!)), fakeApi().layer])
          )
        )
      )
    return Effect.gen(function*() {
      assert.strictEqual(
        yield* message("transport"),
        `No token for client "api": it could not connect to the token endpoint https://auth.example.com/token: ` +
          `connection refused; the API was not called (GET https://api.example.com/transport)`
      )
      assert.strictEqual(
        yield* message("unknown"),
        `No token for client "unknown": no client named "unknown" is registered (known clients: "api"); ` +
          `the API was not called (GET https://api.example.com/unknown)`
      )
      assert.strictEqual(
        yield* message("invalid"),
        `No token for client "invalid": the token endpoint sent it an invalid token response (HTTP 200, ` +
          `text/html): not JSON; body: "<html>"; the API was not called (GET https://api.example.com/invalid)`
      )
    })
  })
})

describe("AccessTokenHttpClient.layer: what retryTransient retries", () => {
  const attempts = (failure: TokenError.TokenError) =>
    Effect.gen(function*() {
      let asked = 0
      const tokens = TokenService.layerTest(() => Effect.suspend(() => (asked++, Effect.fail(failure))))
      const client = yield* Effect.provide(
        HttpClient.HttpClient,
        AccessTokenHttpClient.layer({ client: "api" }).pipe(Layer.provide([tokens, fakeApi().layer]))
      )
      const error = yield* Effect.flip(
        client.pipe(HttpClient.retryTransient({ times: 3 })).get("https://api.example.com/test")
      )
      return { asked, reason: error._tag === "RequestError" ? error.reason : error._tag }
    })

  it.effect("a token failure a later attempt may mend is a Transport error, and retried", () =>
    Effect.gen(function*() {
      const transport = new TokenError.TokenTransportError({
        client: "api",
        reason: "Connect",
        endpoint: "https://auth.example.com/token",
        description: "connection refused"
      })
      assert.deepStrictEqual(yield* attempts(transport), { asked: 4, reason: "Transport" })
    }))

  it.effect("a refusal no retry can mend, and a request refused as configured, are sent once", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(
        yield* attempts(new TokenError.TokenRefusedError({ client: "api", status: 401, error: "invalid_client" })),
        { asked: 1, reason: "Encode" }
      )
      const api = fakeApi()
      const refused = yield* Effect.provide(
        HttpClient.HttpClient,
        AccessTokenHttpClient.layer({ client: "api", allowedOrigins: ["https://api.example.com"] }).pipe(
          Layer.provide([TokenService.layerTest({ api: "token-a" }), api.layer])
        )
      ).pipe(
        Effect.flatMap((client) =>
          Effect.flip(client.pipe(HttpClient.retryTransient({ times: 3 })).get("https://other.example.com/"))
        )
      )
      assert.strictEqual(refused._tag === "RequestError" && refused.reason, "InvalidUrl")
      assert.strictEqual(api.seen.length, 0)
    }))

  it.effect("its message holds no userinfo of the API's URL", () =>
    Effect.gen(function*() {
      const client = yield* Effect.provide(
        HttpClient.HttpClient,
        AccessTokenHttpClient.layer({ client: "api" }).pipe(
          Layer.provide([TokenService.layerTest(refused), fakeApi().layer])
        )
      )
      const error = yield* Effect.flip(client.get("https://alice:s3cret@api.example.com/orders?page=2#top"))
      assert.strictEqual(
        error.message,
        `No token for client "api": the token endpoint refused it with invalid_client (HTTP 401); ` +
          `the API was not called (GET https://api.example.com/orders)`
      )
    }))
})

describe("AccessTokenHttpClient: plain http to an API", () => {
  it.effect("a base URL over plain http off loopback is refused when the layer is built", () =>
    Effect.gen(function*() {
      const built = yield* Effect.exit(
        Layer.build(
          AccessTokenHttpClient.layer({ client: "api", baseUrl: "http://api.example.com/" }).pipe(
            Layer.provide([TokenService.layerTest({ api: "token-a" }), fakeApi().layer])
          )
        )
      )
      assert.isTrue(Exit.isFailure(built))
      if (Exit.isSuccess(built)) return
      const error = yield* Effect.flip(built)
      assert.instanceOf(error, AccessTokenHttpClient.InsecureTransportError)
      assert.strictEqual(
        error.message,
        `Refused to send the access token of client "api" over plain http to api.example.com, where anyone on ` +
          `the network can read and reuse it: use https, or set allowInsecureTransport`
      )
    }).pipe(Effect.scoped))

  it.effect("a request to plain http off loopback is refused, on loopback or allowed it is sent", () => {
    const api = fakeApi()
    return Effect.gen(function*() {
      const client = (yield* HttpClient.HttpClient).pipe(AccessTokenHttpClient.withAccessToken("api"))
      const error = yield* Effect.flip(client.get("http://api.example.com/test"))
      assert.strictEqual(error._tag, "InsecureTransportError")
      yield* client.get("http://127.0.0.1:8080/test")
      yield* client.get("http://localhost/test")
      yield* client.get("https://api.example.com/test")
      const allowed = (yield* HttpClient.HttpClient).pipe(
        AccessTokenHttpClient.withAccessToken({ client: "api", allowInsecureTransport: true })
      )
      yield* allowed.get("http://api.example.com/allowed")
      assert.deepStrictEqual(api.seen.map((request) => request.url), [
        "http://127.0.0.1:8080/test",
        "http://localhost/test",
        "https://api.example.com/test",
        "http://api.example.com/allowed"
      ])
    }).pipe(Effect.provide([TokenService.layerTest({ api: "token-a" }), api.layer]))
  })

  it.effect("a redirect that would carry the token to plain http off loopback is refused too", () => {
    const client = HttpClient.make((request) =>
      Effect.succeed(HttpClientResponse.fromWeb(
        request,
        request.url.startsWith("https:")
          ? new Response(null, { status: 307, headers: { location: "http://api.example.com/next" } })
          : new Response("reached", { status: 200 })
      ))
    ).pipe(AccessTokenHttpClient.withAccessToken({
      client: "api",
      followRedirects: 1,
      allowedOrigins: ["https://api.example.com", "http://api.example.com"]
    }))
    return Effect.gen(function*() {
      const error = yield* Effect.flip(client.get("https://api.example.com/start"))
      assert.strictEqual(error._tag, "InsecureTransportError")
    }).pipe(Effect.provide(TokenService.layerTest({ api: "token-a" })))
  })
})

describe("the core README's unit-testing example", () => {
  // As in packages/core/README.md, "Testing a worker".
  const sent: Array<string | undefined> = []
  const FakeApi = Layer.succeed(
    HttpClient.HttpClient,
    HttpClient.make((request) =>
      Effect.sync(() => {
        sent.push(request.headers.authorization)
        return HttpClientResponse.fromWeb(request, Response.json({ invoices: [] }))
      })
    )
  )

  const Api = AccessTokenHttpClient.layer({ client: "billing", baseUrl: "https://billing.example.com/" }).pipe(
    Layer.provide([TokenService.layerTest({ billing: "token-a" }), FakeApi])
  )

  it.effect("lists the invoices with the billing token", () =>
    Effect.gen(function*() {
      const response = yield* (yield* HttpClient.HttpClient).get("invoices")
      assert.deepStrictEqual(yield* response.json, { invoices: [] })
      assert.deepStrictEqual(sent, ["Bearer token-a"])
    }).pipe(Effect.provide(Api)))
})
