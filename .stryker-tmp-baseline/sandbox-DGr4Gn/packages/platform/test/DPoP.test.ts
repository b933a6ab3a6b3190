/**
 * DPoP (RFC 9449) end to end: tokens bound to the client's key by oidc-provider with proofs and
 * nonces required, API calls through the middleware with a proof each against a protected API that
 * demands its own nonces, and the retry budgets, on loopback in real time.
 */
// @ts-nocheck

import { AccessToken, DPoP, TokenCache, TokenEndpointClient, TokenService } from "@access-token/core"
import { AccessTokenHttpClient } from "@access-token/platform"
import { ProtectedApi, SpanRecorder, TokenServer } from "@access-token/testing"
import { HttpBody, HttpClient, HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import type { Duration } from "effect"
import { Cause, Context, Data, DateTime, Effect, Exit, Fiber, Layer, Metric, Redacted, Stream } from "effect"
import * as Jose from "jose"

/** The token server and API with DPoP and nonces required at both, and a DPoP token service on them. */
const setup = Effect.gen(function*() {
  const server = yield* TokenServer.make({ dpop: { required: true, requireNonce: true } })
  const api = yield* ProtectedApi.make({ dpop: { requireNonce: true } }).pipe(
    Effect.provideService(TokenServer.TokenServer, server)
  )
  const tokens = yield* tokenService(server, NodeHttpClient.layerUndici)
  const base = Context.get(yield* Layer.build(NodeHttpClient.layerUndici), HttpClient.HttpClient)
  const client = AccessTokenHttpClient.make(base, tokens, { client: "api" })
  return { server, api, tokens, client, url: new URL("test", api.baseUrl).href }
})

const tokenService = (
  server: TokenServer.TokenServer.Service,
  transport: Layer.Layer<HttpClient.HttpClient>,
  dpop: true | DPoP.Input = true
) =>
  Effect.gen(function*() {
    const [client] = server.clients
    const context = yield* Layer.build(
      TokenService.layer({
        clients: {
          api: {
            tokenEndpoint: server.tokenEndpoint,
            clientId: client!.clientId,
            clientSecret: client!.clientSecret,
            scope: "api",
            dpop
          }
        }
      }).pipe(
        Layer.provide([TokenEndpointClient.layer(), TokenCache.layerMemory()]),
        Layer.provide(transport)
      )
    )
    return Context.get(context, TokenService.TokenService)
  })

const nonceRetries = Metric.value(Metric.tagged(AccessTokenHttpClient.dpopNonceRetries, "client", "api")).pipe(
  Effect.map((state) => state.count)
)

const outcomes = (api: ProtectedApi.ProtectedApi.Service) =>
  Effect.map(api.requests, (requests) => requests.map((request) => `${request.status} ${request.error ?? ""}`.trim()))

describe("DPoP through the middleware, against oidc-provider", () => {
  it.live("binds the token to the client's key and calls the API with a proof, answering both servers' nonces", () =>
    Effect.gen(function*() {
      const { api, client, server, tokens, url } = yield* setup
      const before = yield* nonceRetries
      const response = yield* client.get(url)
      assert.strictEqual(response.status, 200)
      const claims = (yield* response.json) as ReadonlyArray<ProtectedApi.Claim>
      const key = (yield* tokens.client("api")).dpop!.key
      assert.deepStrictEqual(
        claims.find((claim) => claim.type === "cnf")?.value,
        JSON.stringify({ jkt: key.thumbprint })
      )
      // One nonce round trip at each server, then none: the nonces are remembered.
      assert.deepStrictEqual((yield* server.tokenRequests).map((request) => request.error), [
        "use_dpop_nonce",
        undefined
      ])
      assert.deepStrictEqual(yield* outcomes(api), ["401 use_dpop_nonce", "200"])
      assert.strictEqual((yield* client.get(url)).status, 200)
      assert.strictEqual((yield* client.post(url)).status, 200)
      assert.deepStrictEqual(yield* outcomes(api), ["401 use_dpop_nonce", "200", "200", "200"])
      assert.isTrue((yield* api.requests).every((request) => request.scheme === "DPoP"))
      assert.strictEqual((yield* nonceRetries) - before, 1)
    }).pipe(Effect.scoped))

  it.live("a token replayed without its proof, or with a proof by another key, is refused", () =>
    Effect.gen(function*() {
      const { client, tokens, url } = yield* setup
      const nonce = (yield* client.get(url)).headers["dpop-nonce"]
      const token = Redacted.value((yield* tokens.getToken("api")).value)
      const ath = Jose.base64url.encode(
        new Uint8Array(yield* Effect.promise(() => crypto.subtle.digest("SHA-256", new TextEncoder().encode(token))))
      )
      const replay = (headers: Record<string, string>) =>
        Effect.promise(() =>
          fetch(url, { headers }).then((response) => `${response.status} ${response.headers.get("www-authenticate")}`)
        )
      assert.match(yield* replay({ authorization: `DPoP ${token}` }), /^401 DPoP error="invalid_dpop_proof"/)
      assert.match(yield* replay({ authorization: `Bearer ${token}` }), /^401 DPoP error="invalid_token"/)
      const { privateKey, publicKey } = yield* Effect.promise(() => Jose.generateKeyPair("ES256"))
      const proof = yield* Effect.promise(async () =>
        new Jose.SignJWT({
          htm: "GET",
          htu: url,
          ath,
          nonce,
          jti: crypto.randomUUID(),
          iat: Math.floor(Date.now() / 1000)
        })
          .setProtectedHeader({ typ: "dpop+jwt", alg: "ES256", jwk: await Jose.exportJWK(publicKey) })
          .sign(privateKey)
      )
      assert.match(yield* replay({ authorization: `DPoP ${token}`, dpop: proof }), /^401 .*another key/)
    }).pipe(Effect.scoped))

  it.live("a proof names the target URI as sent, which a resource server that compares literally accepts", () =>
    Effect.gen(function*() {
      const { api, client, url } = yield* setup
      // The same resource spelled three ways; the transport sends http://127.0.0.1:PORT/test each time.
      for (const spelling of [url.replace("http://", "HTTP://"), url.replace("/test", "/v1/../test"), `${url}?x=1#y`]) {
        assert.strictEqual((yield* client.get(spelling)).status, 200)
      }
      assert.deepStrictEqual(yield* outcomes(api), ["401 use_dpop_nonce", "200", "200", "200"])
    }).pipe(Effect.scoped))

  it.live("a retry inside the middleware sends a proof of its own, which a server that refuses replays accepts", () =>
    Effect.gen(function*() {
      const { api, server, tokens, url } = yield* setup
      const base = Context.get(yield* Layer.build(NodeHttpClient.layerUndici), HttpClient.HttpClient)
      const client = AccessTokenHttpClient.make(
        base.pipe(HttpClient.filterStatusOk, HttpClient.retryTransient({ times: 2 })),
        tokens,
        { client: "api" }
      )
      assert.strictEqual((yield* client.get(url)).status, 200)
      const tokenRequests = yield* server.tokenRequestCount
      yield* api.answerUnavailable(1)
      assert.strictEqual((yield* client.get(url)).status, 200)
      assert.deepStrictEqual((yield* outcomes(api)).slice(2), ["503", "200"])
      // The token was good all along: nothing renewed it.
      assert.strictEqual(yield* server.tokenRequestCount, tokenRequests)
    }).pipe(Effect.scoped))

  it.live("that retry's proofs, the token and the DPoP key are in no log line and no span", () =>
    Effect.gen(function*() {
      const { api, server } = yield* setup
      const { privateKey } = yield* Effect.promise(() => Jose.generateKeyPair("ES256", { extractable: true }))
      const pem = yield* Effect.promise(() => Jose.exportPKCS8(privateKey))
      const jwk = yield* Effect.promise(() => Jose.exportJWK(privateKey))
      const tokens = yield* tokenService(server, NodeHttpClient.layerUndici, { key: Redacted.make(pem) })
      // What the transport is given to send, as signed: the token and every proof, the retried request's included.
      const sent: Array<{ readonly authorization: string; readonly proof: string }> = []
      const base = Context.get(yield* Layer.build(NodeHttpClient.layerUndici), HttpClient.HttpClient)
      const seeing = HttpClient.make((request) => {
        sent.push({ authorization: request.headers.authorization!, proof: request.headers.dpop! })
        return base.execute(request)
      })
      const client = AccessTokenHttpClient.make(
        seeing.pipe(
          HttpClient.filterStatusOk,
          HttpClient.retryTransient({ times: 2 })
        ),
        tokens,
        { client: "api" }
      )
      const url = new URL("test", api.baseUrl).href
      const watch = yield* SpanRecorder.watch(Effect.gen(function*() {
        assert.strictEqual((yield* client.get(url)).status, 200)
        yield* api.answerUnavailable(1)
        assert.strictEqual((yield* client.get(url)).status, 200)
      }))
      assert.isTrue(Exit.isSuccess(watch.exit))
      // The path was taken: the nonce asked for, then a 503 retried with a proof of its own.
      assert.deepStrictEqual(yield* outcomes(api), ["401 use_dpop_nonce", "200", "503", "200"])
      assert.strictEqual(new Set(sent.map(({ proof }) => proof)).size, 4)
      const token = sent[0]!.authorization.replace(/^DPoP /, "")
      assert.isTrue(sent.every(({ authorization }) => authorization === `DPoP ${token}`))
      const body = pem.replace(/-----[A-Z ]+-----|\s+/g, "")
      const secrets = [token, ...sent.map(({ proof }) => proof), pem, body.slice(64, 128), jwk.d!]
      assert.deepStrictEqual(SpanRecorder.leaksOf(watch, secrets), [])
      assert.isNotEmpty(watch.spans, "spans are recorded")
    }).pipe(Effect.scoped))

  it.live("an error of the wrapped client's own stays typed, against the strict API", () =>
    Effect.gen(function*() {
      const { api, tokens, url } = yield* setup
      const base = Context.get(yield* Layer.build(NodeHttpClient.layerUndici), HttpClient.HttpClient)
      class Refused extends Data.TaggedError("Refused")<{ readonly status: number }> {}
      const client = AccessTokenHttpClient.make(
        base.pipe(
          HttpClient.filterOrFail((response) => response.status === 200, (response) =>
            new Refused({ status: response.status }))
        ),
        tokens,
        { client: "api" }
      )
      // The API's first answer asks for its nonce: the wrapped client turns it into its own error.
      const error = yield* Effect.flip(client.get(url))
      assert.instanceOf(error, Refused)
      assert.strictEqual((error as Refused).status, 401)
      assert.deepStrictEqual(yield* outcomes(api), ["401 use_dpop_nonce"])
    }).pipe(Effect.scoped))

  it.live("a request uses its nonce retry and its renewal after a 401, each once", () =>
    Effect.gen(function*() {
      const { api, client, server, url } = yield* setup
      assert.strictEqual((yield* client.get(url)).status, 200)
      const tokenRequests = yield* server.tokenRequestCount
      // The API forgets its nonce and every token it accepted: the next request needs both retries.
      yield* api.rotateNonce
      yield* api.revokeAll
      assert.strictEqual((yield* client.get(url)).status, 200)
      assert.deepStrictEqual((yield* outcomes(api)).slice(2), ["401 use_dpop_nonce", "401 invalid_token", "200"])
      assert.strictEqual((yield* server.tokenRequestCount) - tokenRequests, 1)
    }).pipe(Effect.scoped))

  it.live("a body that cannot be sent twice is not sent again for a nonce", () =>
    Effect.gen(function*() {
      const { api, client, url } = yield* setup
      assert.strictEqual((yield* client.get(url)).status, 200)
      yield* api.rotateNonce
      const once = HttpClientRequest.post(url).pipe(
        HttpClientRequest.setBody(HttpBody.stream(Stream.make(new TextEncoder().encode("once"))))
      )
      const response = yield* client.execute(once)
      assert.strictEqual(response.status, 401)
      assert.match(response.headers["www-authenticate"] ?? "", /use_dpop_nonce/)
      assert.deepStrictEqual((yield* outcomes(api)).slice(2), ["401 use_dpop_nonce"])
      // The nonce it brought is kept: the next request carries it at once.
      assert.strictEqual((yield* client.get(url)).status, 200)
    }).pipe(Effect.scoped))

  it.live(
    "10,000 concurrent cold requests make one token request, plus at most one nonce retry",
    () =>
      Effect.gen(function*() {
        const server = yield* TokenServer.make({ dpop: { required: true, requireNonce: true } })
        const tokens = yield* tokenService(server, NodeHttpClient.layerUndici)
        // An API in process that demands its nonce, so that the herd meets a nonce challenge too.
        const seen = { challenges: 0, accepted: 0 }
        const api = HttpClient.make((request) =>
          Effect.sync(() => {
            const proof = Jose.decodeJwt(request.headers.dpop ?? "")
            const ok = proof.nonce === "n-1" && request.headers.authorization?.startsWith("DPoP ") === true
            if (ok) seen.accepted++
            else seen.challenges++
            return HttpClientResponse.fromWeb(
              request,
              new Response(null, {
                status: ok ? 200 : 401,
                headers: { "dpop-nonce": "n-1", ...(ok ? {} : { "www-authenticate": "DPoP error=\"use_dpop_nonce\"" }) }
              })
            )
          })
        )
        const client = AccessTokenHttpClient.make(api, tokens, { client: "api" })
        const statuses = yield* Effect.all(
          Array.from({ length: 10_000 }, () => Effect.map(client.get("https://api.example.com/test"), (r) => r.status)),
          { concurrency: "unbounded" }
        )
        assert.isTrue(statuses.every((status) => status === 200))
        const requests = yield* server.tokenRequests
        assert.deepStrictEqual(requests.map((request) => request.outcome), ["error", "success"])
        assert.strictEqual(requests[0]!.error, "use_dpop_nonce")
        assert.strictEqual(seen.accepted, 10_000)
      }).pipe(Effect.scoped),
    60_000
  )
})

describe("DPoP through the middleware: the token and the key that proves it", () => {
  /**
   * A tenant's client found by `resolveClient` with the key `keys` gives at its n-th resolution,
   * each definition kept `timeToLive`, its token requests answered after 700 ms, against
   * oidc-provider requiring DPoP and the strict API.
   */
  const resolvedSetup = (keys: (resolution: number) => DPoP.Key, timeToLive: Duration.DurationInput) =>
    Effect.gen(function*() {
      const server = yield* TokenServer.make({ dpop: { required: true } })
      const api = yield* ProtectedApi.make().pipe(Effect.provideService(TokenServer.TokenServer, server))
      const [registered] = server.clients
      let resolutions = 0
      const slow = NodeHttpClient.layerUndici.pipe(
        Layer.map((context) =>
          Context.add(
            context,
            HttpClient.HttpClient,
            Context.get(context, HttpClient.HttpClient).pipe(HttpClient.transformResponse(Effect.delay("700 millis")))
          )
        )
      )
      const tokens = Context.get(
        yield* Layer.build(
          TokenService.layer({
            clients: {},
            resolvedClientTimeToLive: timeToLive,
            resolveClient: () =>
              Effect.sync(() => ({
                tokenEndpoint: server.tokenEndpoint,
                clientId: registered!.clientId,
                clientSecret: registered!.clientSecret,
                scope: "api",
                dpop: { key: keys(resolutions++) }
              }))
          }).pipe(Layer.provide([TokenEndpointClient.layer(), TokenCache.layerMemory()]), Layer.provide(slow))
        ),
        TokenService.TokenService
      )
      const base = Context.get(yield* Layer.build(NodeHttpClient.layerUndici), HttpClient.HttpClient)
      const client = AccessTokenHttpClient.make(base, tokens, { client: "tenant" })
      return { api, tokens, client, url: new URL("test", api.baseUrl).href }
    })

  it.live("a resolved client's definition lapsing while its token is requested does not lose the key", () =>
    Effect.gen(function*() {
      const key = yield* DPoP.generate()
      const { api, client, url } = yield* resolvedSetup(() => key, "200 millis")
      assert.strictEqual((yield* client.get(url)).status, 200)
      assert.deepStrictEqual(yield* outcomes(api), ["200"])
    }).pipe(Effect.scoped))

  it.live("a client resolved again with a new key meanwhile: the token goes with the key it is bound to", () =>
    Effect.gen(function*() {
      const [first, second] = [yield* DPoP.generate(), yield* DPoP.generate()]
      const { api, client, tokens, url } = yield* resolvedSetup(
        (resolution) => resolution === 0 ? first : second,
        "1 minute"
      )
      const retriesBefore = yield* Metric.value(
        Metric.tagged(AccessTokenHttpClient.unauthorizedRetries, "client", "tenant")
      )
      const call = yield* Effect.fork(client.get(url))
      // The key is rotated out of band while the first token is requested: another caller resolves the new one.
      yield* Effect.sleep("300 millis")
      yield* tokens.drop("tenant")
      const renewed = yield* Effect.fork(tokens.getToken("tenant"))
      assert.strictEqual((yield* Fiber.join(call)).status, 200)
      assert.strictEqual((yield* tokens.client("tenant")).dpop!.key, second)
      yield* Fiber.join(renewed)
      // Accepted at once: the proof was signed with the key the token is bound to, not the newer one.
      assert.deepStrictEqual(yield* outcomes(api), ["200"])
      const retriesAfter = yield* Metric.value(
        Metric.tagged(AccessTokenHttpClient.unauthorizedRetries, "client", "tenant")
      )
      assert.strictEqual(retriesAfter.count, retriesBefore.count)
    }).pipe(Effect.scoped))
})

describe("DPoP through the middleware, on a scripted API", () => {
  const fixedTokens = Effect.gen(function*() {
    const context = yield* Layer.build(
      TokenService.layer({
        clients: {
          api: { tokenEndpoint: "https://as.example.com/token", clientId: "c", authentication: "none", dpop: true }
        }
      }).pipe(
        Layer.provide([
          TokenEndpointClient.layerTest(() =>
            Effect.map(
              DateTime.now,
              (receivedAt) => AccessToken.make({ value: "tok-1", type: "DPoP", receivedAt, expiresIn: "1 hour" })
            )
          ),
          TokenCache.layerMemory()
        ])
      )
    )
    return Context.get(context, TokenService.TokenService)
  })

  /** An API answering from a script, keeping each request's method, URL and decoded proof. */
  const scripted = (answer: (index: number) => Response) => {
    const seen: Array<{ method: string; url: string; proof: Jose.JWTPayload }> = []
    const client = HttpClient.make((request) =>
      Effect.sync(() => {
        seen.push({ method: request.method, url: request.url, proof: Jose.decodeJwt(request.headers.dpop!) })
        return HttpClientResponse.fromWeb(request, answer(seen.length - 1))
      })
    )
    return { seen, client }
  }

  it.scoped("a server that keeps asking for new nonces gets one retry, and no renewal", () =>
    Effect.gen(function*() {
      const tokens = yield* fixedTokens
      const { client, seen } = scripted((i) =>
        new Response(null, {
          status: 401,
          headers: { "www-authenticate": "DPoP error=\"use_dpop_nonce\"", "dpop-nonce": `n-${i}` }
        })
      )
      const response = yield* AccessTokenHttpClient.make(client, tokens, { client: "api" }).get("https://a.example/x")
      assert.strictEqual(response.status, 401)
      assert.deepStrictEqual(seen.map((request) => request.proof.nonce), [undefined, "n-0"])
      assert.notStrictEqual(seen[0]!.proof.jti, seen[1]!.proof.jti)
    }))

  it.scoped("every hop of a redirect gets a proof for its own method and URL, with the token's ath", () =>
    Effect.gen(function*() {
      const tokens = yield* fixedTokens
      const { client, seen } = scripted((i) =>
        i === 0
          ? new Response(null, { status: 303, headers: { location: "/moved/here?x=1" } })
          : new Response("ok", { status: 200 })
      )
      const authenticated = AccessTokenHttpClient.make(client, tokens, { client: "api", followRedirects: 1 })
      const response = yield* authenticated.post("https://a.example/start?page=2", { body: HttpBody.text("x") })
      assert.strictEqual(response.status, 200)
      assert.deepStrictEqual(seen.map((request) => [request.proof.htm, request.proof.htu]), [
        ["POST", "https://a.example/start"],
        ["GET", "https://a.example/moved/here"]
      ])
      const ath = yield* Effect.promise(() => crypto.subtle.digest("SHA-256", new TextEncoder().encode("tok-1")))
      assert.strictEqual(seen[1]!.proof.ath, Jose.base64url.encode(new Uint8Array(ath)))
    }))

  it.scoped("the proof is masked in the client's spans, as the token is", () =>
    Effect.gen(function*() {
      const tokens = yield* fixedTokens
      const { client } = scripted(() => new Response("ok", { status: 200 }))
      const { spans } = yield* SpanRecorder.record(
        AccessTokenHttpClient.make(client, tokens, { client: "api" }).get("https://a.example/x")
      )
      const attributes = spans.flatMap((span) =>
        Array.from(span.attributes, ([key, value]) => `${key}=${String(value)}`)
      )
      assert.include(attributes, "http.request.header.dpop=<redacted>")
      assert.include(attributes, "http.request.header.authorization=<redacted>")
      for (const attribute of attributes) assert.notMatch(attribute, /[\w-]{10,}\.[\w-]{10,}\.[\w-]{10,}/)
    }))
})

describe("DPoP through the middleware: what the wrapped client fails with", () => {
  const dpopTokens = Effect.gen(function*() {
    const context = yield* Layer.build(
      TokenService.layer({
        clients: {
          api: { tokenEndpoint: "https://as.example.com/token", clientId: "c", authentication: "none", dpop: true }
        }
      }).pipe(
        Layer.provide([
          TokenEndpointClient.layerTest(() =>
            Effect.map(
              DateTime.now,
              (receivedAt) => AccessToken.make({ value: "tok-1", type: "DPoP", receivedAt, expiresIn: "1 hour" })
            )
          ),
          TokenCache.layerMemory()
        ])
      )
    )
    return Context.get(context, TokenService.TokenService)
  })

  class NotOk extends Data.TaggedError("NotOk")<{ readonly status: number }> {}

  const answering = (status: number) =>
    HttpClient.make((request) => Effect.succeed(HttpClientResponse.fromWeb(request, new Response(null, { status }))))

  it.scoped("a custom error of HttpClient.filterOrFail stays typed", () =>
    Effect.gen(function*() {
      const tokens = yield* dpopTokens
      const inner = answering(500).pipe(
        HttpClient.filterOrFail(
          (response) => response.status < 500,
          (response) => new NotOk({ status: response.status })
        )
      )
      const error = yield* Effect.flip(
        AccessTokenHttpClient.make(inner, tokens, { client: "api" }).get("https://a.example/x")
      )
      assert.instanceOf(error, NotOk)
      assert.strictEqual((error as NotOk).status, 500)
    }))

  it.live("a TimeoutException of Effect.timeout inside the client stays typed", () =>
    Effect.gen(function*() {
      const tokens = yield* dpopTokens
      const inner = HttpClient.make(() => Effect.never).pipe(HttpClient.transformResponse(Effect.timeout("10 millis")))
      const error = yield* Effect.flip(
        AccessTokenHttpClient.make(inner, tokens, { client: "api" }).get("https://a.example/x")
      )
      assert.isTrue(Cause.isTimeoutException(error))
    }).pipe(Effect.scoped))
})
