/**
 * The middleware's request path against a scripted API and a token service double: redirects,
 * bodies sent again, the token's parameters, DPoP tokens without a bound key, metrics, and the
 * client named in what it reports.
 */
import type { TokenService } from "@access-token/core"
import { AccessToken, DPoP, MutualTls } from "@access-token/core"
import { bindings } from "@access-token/core/internal/tokenBinding"
import { AccessTokenHttpClient } from "@access-token/platform"
import { HttpClient, HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Logger, LogLevel, Metric, Redacted, Stream } from "effect"

interface Seen {
  readonly method: string
  readonly url: string
  readonly headers: Record<string, string>
  readonly body: string
}

/** An API stand-in: records each request and answers as `answer` says. */
const scriptedApi = (answer: (request: Seen, n: number) => Response = () => new Response("{}")) => {
  const seen: Array<Seen> = []
  const client = HttpClient.make((request) =>
    Effect.gen(function*() {
      const body = request.body._tag === "Uint8Array"
        ? new TextDecoder().decode(request.body.body)
        : request.body._tag === "FormData"
        ? [...request.body.formData.entries()].map(([key, value]) => `${key}=${String(value)}`).join("&")
        : request.body._tag === "Stream"
        ? yield* Stream.mkString(Stream.decodeText(request.body.stream)).pipe(Effect.orDie)
        : ""
      const entry = { method: request.method, url: request.url, headers: { ...request.headers }, body }
      seen.push(entry)
      return HttpClientResponse.fromWeb(request, answer(entry, seen.length))
    })
  )
  return { seen, client }
}

/** A token service double: `clients` registered, each getToken recorded, `token-<n>` of `type`. */
const tokenService = (options: {
  readonly clients?: ReadonlyArray<string>
  readonly type?: string
  readonly client?: TokenService.TokenService.Service["client"]
} = {}) => {
  const requests: Array<{ readonly client: string | undefined; readonly parameters: unknown }> = []
  const service: TokenService.TokenService.Service = {
    clients: options.clients ?? ["api"],
    readiness: Effect.die("not in these tests"),
    client: options.client ?? (() => Effect.die("the client was looked up")),
    getToken: (client, parameters) =>
      Effect.sync(() => {
        requests.push({ client, parameters })
        return AccessToken.make({
          value: `token-${requests.length}`,
          type: options.type,
          receivedAt: DateTime.unsafeMake(0),
          expiresIn: "1 hour"
        })
      }),
    drop: () => Effect.void,
    invalidate: () => Effect.void
  }
  return { requests, service }
}

/** A redirect to `location`, or with no Location header when it is empty. */
const redirect = (status: number, location: string) =>
  new Response(null, { status, headers: location === "" ? {} : { location } })

describe("redirects followed by the middleware", () => {
  const follows = (status: number, location = "/next") =>
    Effect.gen(function*() {
      const api = scriptedApi((request) =>
        request.url.endsWith("/next") ? new Response("{}") : redirect(status, location)
      )
      const client = AccessTokenHttpClient.make(api.client, tokenService().service, { followRedirects: 1 })
      const response = yield* client.get("https://api.example.com/start")
      return { status: response.status, urls: api.seen.map((request) => request.url) }
    })

  it.effect("follow a 3xx with a Location, from 300 to 399, but a 304", () =>
    Effect.gen(function*() {
      for (const status of [300, 301, 302, 307, 308, 399]) {
        assert.deepStrictEqual(yield* follows(status), {
          status: 200,
          urls: ["https://api.example.com/start", "https://api.example.com/next"]
        }, `${status}`)
      }
      for (const status of [200, 201, 304, 400, 404]) {
        assert.deepStrictEqual(
          yield* follows(status),
          { status, urls: ["https://api.example.com/start"] },
          `${status}`
        )
      }
      assert.deepStrictEqual(yield* follows(302, ""), { status: 302, urls: ["https://api.example.com/start"] })
    }))

  it.effect("stop after followRedirects hops, handing the last 3xx back", () =>
    Effect.gen(function*() {
      const api = scriptedApi((_, n) => redirect(302, `/hop-${n}`))
      const client = AccessTokenHttpClient.make(api.client, tokenService().service, { followRedirects: 2 })
      const response = yield* client.get("https://api.example.com/start")
      assert.strictEqual(response.status, 302)
      assert.deepStrictEqual(api.seen.map((request) => new URL(request.url).pathname), ["/start", "/hop-1", "/hop-2"])
    }))

  it.effect("send a replayable body again, but hand back the 307 of a stream it cannot send twice", () =>
    Effect.gen(function*() {
      const api = scriptedApi((request) => request.url.endsWith("/next") ? new Response("{}") : redirect(307, "/next"))
      const client = AccessTokenHttpClient.make(api.client, tokenService().service, { followRedirects: 1 })
      const json = yield* client.execute(
        HttpClientRequest.post("https://api.example.com/start").pipe(HttpClientRequest.bodyText("{\"a\":1}"))
      )
      assert.strictEqual(json.status, 200)
      assert.deepStrictEqual(api.seen.map((request) => [request.method, request.body]), [
        ["POST", "{\"a\":1}"],
        ["POST", "{\"a\":1}"]
      ])
      api.seen.length = 0
      const stream = yield* client.execute(
        HttpClientRequest.post("https://api.example.com/start").pipe(
          HttpClientRequest.bodyStream(Stream.make(new TextEncoder().encode("chunk")))
        )
      )
      assert.strictEqual(stream.status, 307)
      assert.strictEqual(api.seen.length, 1)
    }))

  it.effect("a 303 is followed with a GET without the body, even one that could not be sent twice", () =>
    Effect.gen(function*() {
      const api = scriptedApi((request) => request.url.endsWith("/next") ? new Response("{}") : redirect(303, "/next"))
      const client = AccessTokenHttpClient.make(api.client, tokenService().service, { followRedirects: 1 })
      const response = yield* client.execute(
        HttpClientRequest.post("https://api.example.com/start").pipe(
          HttpClientRequest.bodyStream(Stream.make(new TextEncoder().encode("chunk")))
        )
      )
      assert.strictEqual(response.status, 200)
      assert.deepStrictEqual(api.seen.map((request) => [request.method, request.body]), [["POST", "chunk"], [
        "GET",
        ""
      ]])
    }))

  it.effect("a hop to another origin carries no Authorization, not even one the caller set", () =>
    Effect.gen(function*() {
      const api = scriptedApi((request) =>
        request.url.startsWith("https://api.example.com")
          ? redirect(307, "https://cdn.example.com/file")
          : new Response("{}")
      )
      const client = AccessTokenHttpClient.make(api.client, tokenService().service, { followRedirects: 1 })
      yield* client.execute(
        HttpClientRequest.put("https://api.example.com/start").pipe(
          HttpClientRequest.setHeaders({ authorization: "Basic c2VjcmV0", "x-trace": "t-1" }),
          HttpClientRequest.bodyText("payload")
        )
      )
      assert.strictEqual(api.seen[0]!.headers.authorization, "Bearer token-1")
      const hop = api.seen[1]!
      assert.deepStrictEqual([hop.method, hop.url, hop.body], ["PUT", "https://cdn.example.com/file", "payload"])
      assert.isUndefined(hop.headers.authorization)
      assert.strictEqual(hop.headers["x-trace"], "t-1")
    }))
})

describe("the middleware", () => {
  it.effect("sends a form body again after a 401, with the renewed token", () =>
    Effect.gen(function*() {
      const api = scriptedApi((request) =>
        new Response("{}", { status: request.headers.authorization === "Bearer token-1" ? 401 : 200 })
      )
      const client = AccessTokenHttpClient.make(api.client, tokenService().service)
      const form = new FormData()
      form.append("name", "invoice")
      const response = yield* client.execute(
        HttpClientRequest.post("https://api.example.com/upload").pipe(HttpClientRequest.bodyFormData(form))
      )
      assert.strictEqual(response.status, 200)
      assert.deepStrictEqual(api.seen.map((request) => [request.headers.authorization, request.body]), [
        ["Bearer token-1", "name=invoice"],
        ["Bearer token-2", "name=invoice"]
      ])
    }))

  it.effect("asks for tokens with the resource, or the extra parameters, it was given alone", () =>
    Effect.gen(function*() {
      for (
        const options of [
          { resource: "https://api.example.com" },
          { parameters: { audience: "api" } },
          { scope: "orders:read" }
        ] as const
      ) {
        const tokens = tokenService()
        yield* AccessTokenHttpClient.make(scriptedApi().client, tokens.service, { client: "api", ...options })
          .get("https://api.example.com/orders")
        assert.deepStrictEqual(tokens.requests, [{
          client: "api",
          parameters: { scope: undefined, resource: undefined, parameters: undefined, ...options }
        }])
      }
      const plain = tokenService()
      yield* AccessTokenHttpClient.make(scriptedApi().client, plain.service, { client: "api" })
        .get("https://api.example.com/orders")
      assert.deepStrictEqual(plain.requests, [{ client: "api", parameters: undefined }])
    }))

  it.effect("refuses a URL it cannot parse when bound to origins, naming the URL", () =>
    Effect.gen(function*() {
      const api = scriptedApi()
      const client = AccessTokenHttpClient.make(api.client, tokenService().service, {
        allowedOrigins: [new URL("https://api.example.com/v1")]
      })
      const error = yield* Effect.flip(client.get("not a url"))
      assert.strictEqual(error._tag, "OriginNotAllowedError")
      assert.strictEqual(
        error.message,
        "Refused to send the access token to not a url: it is bound to https://api.example.com"
      )
      assert.deepStrictEqual(api.seen, [])
    }))

  it.effect("sends a Bearer token without looking its client up", () =>
    Effect.gen(function*() {
      const api = scriptedApi()
      const tokens = tokenService({ client: () => Effect.die("looked up") })
      yield* AccessTokenHttpClient.make(api.client, tokens.service, { client: "api" }).get("https://api.example.com/")
      assert.strictEqual(api.seen[0]!.headers.authorization, "Bearer token-1")
    }))

  it.effect("does not send a Bearer token again for a DPoP nonce challenge", () =>
    Effect.gen(function*() {
      const api = scriptedApi(() =>
        new Response(null, {
          status: 401,
          headers: { "www-authenticate": "DPoP error=\"use_dpop_nonce\"", "dpop-nonce": "n-1" }
        })
      )
      const tokens = tokenService()
      const response = yield* AccessTokenHttpClient.make(api.client, tokens.service).get("https://api.example.com/")
      assert.strictEqual(response.status, 401)
      assert.strictEqual(api.seen.length, 1)
    }))

  it.effect("a DPoP token bound to no key goes out with the client's key, or as is when the client has none", () =>
    Effect.gen(function*() {
      const key = yield* DPoP.generate()
      const withKey = scriptedApi()
      yield* AccessTokenHttpClient.make(
        withKey.client,
        tokenService({ type: "DPoP", client: () => Effect.succeed({ dpop: { key } } as never) }).service,
        { client: "api" }
      ).get("https://api.example.com/orders")
      assert.strictEqual(withKey.seen[0]!.headers.authorization, "DPoP token-1")
      assert.isString(withKey.seen[0]!.headers.dpop)
      const claims = JSON.parse(Buffer.from(withKey.seen[0]!.headers.dpop!.split(".")[1]!, "base64url").toString())
      assert.strictEqual(claims.htu, "https://api.example.com/orders")

      const without = scriptedApi()
      yield* AccessTokenHttpClient.make(
        without.client,
        tokenService({ type: "DPoP", client: () => Effect.succeed({ dpop: undefined } as never) }).service,
        { client: "api" }
      ).get("https://api.example.com/orders")
      assert.strictEqual(without.seen[0]!.headers.authorization, "DPoP token-1")
      assert.isUndefined(without.seen[0]!.headers.dpop)
    }))

  it.effect("counts requests sent again after a 401 by client, the unnamed one as default", () =>
    Effect.gen(function*() {
      const count = (client: string) =>
        Metric.value(Metric.tagged(AccessTokenHttpClient.unauthorizedRetries, "client", client)).pipe(
          Effect.map((state) => state.count)
        )
      const before = { named: yield* count("metrics-api"), unnamed: yield* count("default") }
      const api = scriptedApi((request) =>
        new Response("{}", { status: request.headers.authorization === "Bearer token-1" ? 401 : 200 })
      )
      yield* AccessTokenHttpClient.make(api.client, tokenService().service, { client: "metrics-api" })
        .get("https://api.example.com/")
      assert.strictEqual((yield* count("metrics-api")) - before.named, 1)
      yield* AccessTokenHttpClient.make(api.client, tokenService().service).get("https://api.example.com/")
      assert.strictEqual((yield* count("default")) - before.unnamed, 1)
    }))

  it.effect("names in its warnings the client given, else the only one registered, else default", () =>
    Effect.gen(function*() {
      const warnings: Array<string> = []
      const logger = Logger.make(({ logLevel, message }) => {
        if (logLevel === LogLevel.Warning) warnings.push((Array.isArray(message) ? message : [message]).join(" "))
      })
      const storm = (options: AccessTokenHttpClient.Options | undefined, clients: ReadonlyArray<string>) =>
        AccessTokenHttpClient.make(
          scriptedApi(() => new Response(null, { status: 401 })).client,
          tokenService({ clients }).service,
          options
        )
          .get("https://api.example.com/")
          .pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
      yield* storm({ client: "named" }, ["named", "other"])
      yield* storm(undefined, ["only"])
      yield* storm(undefined, ["one", "two"])
      yield* storm(undefined, [])
      assert.deepStrictEqual(warnings.map((warning) => warning.match(/of client "([^"]*)"/)?.[1]), [
        "named",
        "only",
        "default",
        "default"
      ])
    }))
})

describe("the 401 guard's warning", () => {
  it.effect("names the API by its origin, or says its URL could not be parsed", () =>
    Effect.gen(function*() {
      const warnings: Array<string> = []
      const logger = Logger.make(({ logLevel, message }) => {
        if (logLevel === LogLevel.Warning) warnings.push((Array.isArray(message) ? message : [message]).join(" "))
      })
      // A transport that answers any URL, parsable or not, with a 401.
      const rejecting = HttpClient.makeWith<never, never, never, never>(
        (request) =>
          Effect.map(request, (request) => HttpClientResponse.fromWeb(request, new Response(null, { status: 401 }))),
        Effect.succeed
      )
      for (const url of ["https://api.example.com/orders?id=1", "not a url"]) {
        yield* AccessTokenHttpClient.make(rejecting, tokenService().service).get(url).pipe(
          Effect.provide(Logger.replace(Logger.defaultLogger, logger))
        )
      }
      assert.deepStrictEqual(warnings.map((warning) => warning.split(" rejects")[0]), [
        "The API at https://api.example.com",
        "The API at (unparsable URL)"
      ])
    }))
})

describe("a token bound to a client certificate", () => {
  const certificate = (thumbprint: string) =>
    new MutualTls.ClientCertificate({
      certificate: Redacted.make("-----BEGIN CERTIFICATE-----"),
      privateKey: Redacted.make("-----BEGIN PRIVATE KEY-----"),
      thumbprint
    })
  const worker = certificate("thumbprint-of-worker")

  /** A token service double whose tokens are bound to `worker`'s certificate, as the token service binds them. */
  const boundTokens = () => {
    const tokens = tokenService({ clients: ["worker"] })
    const getToken = tokens.service.getToken
    const service: TokenService.TokenService.Service = {
      ...tokens.service,
      getToken: (client, parameters) =>
        Effect.tap(getToken(client, parameters), (token) => {
          bindings.set(token, { key: undefined, certificate: worker })
        })
    }
    return service
  }

  it.effect("goes only through a client presenting that very certificate", () =>
    Effect.gen(function*() {
      const api = scriptedApi()
      yield* AccessTokenHttpClient.make(MutualTls.presenting(api.client, worker), boundTokens())
        .get("https://api.example.com/orders")
      assert.strictEqual(api.seen[0]!.headers.authorization, "Bearer token-1")
    }))

  it.effect("is not sent through a client presenting no certificate, or another one", () =>
    Effect.gen(function*() {
      const api = scriptedApi()
      for (
        const [client, presentsAnother] of [
          [api.client, false],
          [MutualTls.presenting(api.client, certificate("thumbprint-of-another")), true]
        ] as const
      ) {
        const error = yield* Effect.flip(
          AccessTokenHttpClient.make(client, boundTokens()).get("https://api.example.com/orders")
        )
        assert.instanceOf(error, MutualTls.CertificateNotPresentedError)
        assert.deepStrictEqual({ ...error }, {
          _tag: "CertificateNotPresentedError",
          client: "worker",
          presentsAnother
        })
      }
      assert.deepStrictEqual(api.seen, [])
    }))
})

describe("the 401 guard, on a client that fails on 401 (filterStatusOk)", () => {
  it.effect("sees a renewed token rejected too, and holds further renewals back", () =>
    Effect.gen(function*() {
      const api = scriptedApi(() => new Response(null, { status: 401 }))
      const tokens = tokenService()
      const client = AccessTokenHttpClient.make(api.client.pipe(HttpClient.filterStatusOk), tokens.service)
      for (let i = 0; i < 5; i++) {
        const error = yield* Effect.flip(client.get("https://api.example.com/orders"))
        assert.strictEqual(error._tag, "ResponseError")
      }
      // The double hands out a new token on every call: count the renewals, which name the rejected token.
      const renewals = tokens.requests.filter((request) =>
        (request.parameters as { readonly rejected?: unknown } | undefined)?.rejected !== undefined
      )
      assert.strictEqual(renewals.length, 1)
    }))
})

describe("a DPoP token and a resource server's nonces", () => {
  const nonceChallenge = (nonce?: string) =>
    new Response(null, {
      status: 401,
      headers: {
        "www-authenticate": "DPoP error=\"use_dpop_nonce\"",
        ...(nonce === undefined ? {} : { "dpop-nonce": nonce })
      }
    })
  const nonceOf = (request: Seen): unknown =>
    JSON.parse(Buffer.from(request.headers.dpop!.split(".")[1]!, "base64url").toString()).nonce

  const dpopClient = (api: ReturnType<typeof scriptedApi>, options?: AccessTokenHttpClient.Options) =>
    Effect.map(DPoP.generate(), (key) => {
      const tokens = tokenService({ type: "DPoP", client: () => Effect.succeed({ dpop: { key } } as never) })
      return { tokens, client: AccessTokenHttpClient.make(api.client, tokens.service, options) }
    })

  it.effect("a request answers one nonce challenge and one rejection, each once", () =>
    Effect.gen(function*() {
      const api = scriptedApi((_, n) =>
        n === 1
          ? nonceChallenge("n-1")
          : n === 2
          ? new Response(null, { status: 401, headers: { "www-authenticate": "DPoP error=\"invalid_token\"" } })
          : nonceChallenge("n-2")
      )
      const { client, tokens } = yield* dpopClient(api)
      const response = yield* client.get("https://api.example.com/orders")
      assert.strictEqual(response.status, 401)
      assert.deepStrictEqual(api.seen.map((request) => [request.headers.authorization, nonceOf(request)]), [
        ["DPoP token-1", undefined],
        ["DPoP token-1", "n-1"],
        ["DPoP token-2", "n-1"]
      ])
      assert.strictEqual(tokens.requests.length, 2)
    }))

  it.effect("a challenge without a nonce is not answered", () =>
    Effect.gen(function*() {
      const api = scriptedApi(() => nonceChallenge())
      const { client } = yield* dpopClient(api)
      assert.strictEqual((yield* client.get("https://api.example.com/orders")).status, 401)
      assert.strictEqual(api.seen.length, 1)
    }))

  it.effect("the origin's nonce stays until the server sends another, and is counted by client", () =>
    Effect.gen(function*() {
      const count = Metric.value(Metric.tagged(AccessTokenHttpClient.dpopNonceRetries, "client", "default")).pipe(
        Effect.map((state) => state.count)
      )
      const before = yield* count
      const api = scriptedApi((_, n) =>
        n === 1 ? nonceChallenge("n-1") : new Response("{}", { headers: n === 4 ? { "dpop-nonce": "n-2" } : {} })
      )
      const { client } = yield* dpopClient(api)
      for (let i = 0; i < 4; i++) yield* client.get("https://api.example.com/orders")
      assert.deepStrictEqual(api.seen.map(nonceOf), [undefined, "n-1", "n-1", "n-1", "n-2"])
      assert.strictEqual((yield* count) - before, 1)
    }))
})
