/**
 * Scenario 8, DPoP: what a sender-constrained token costs per request.
 *
 * - The cost of one proof (`DPoP.proof`: claims, `ath` of a cached token, ES256 signature with
 *   jose), next to the bare signature it contains (jose `CompactSign` of the same claims).
 * - The middleware with a DPoP token beside the same middleware with a bearer token, on the same
 *   undici `HttpClient`, against API processes that check the header (and, for DPoP, verify every
 *   proof and demand a nonce), at concurrency 1 and 64; and without I/O, to give the middleware's
 *   own cost in µs.
 * - `openid-client` 6's DPoP-protected resource request (`fetchProtectedResource` with a DPoP
 *   handle, global `fetch`) against the same DPoP API.
 */
import { AccessToken, DPoP, TokenCache, TokenEndpointClient, TokenService } from "@access-token/core"
import { AccessTokenHttpClient } from "@access-token/platform"
import { HttpClient, HttpClientResponse } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { Context, DateTime, Effect, Layer, Redacted, type Scope } from "effect"
import * as Jose from "jose"
import * as OpenId from "openid-client"
import { spawnApi } from "./lib/apiProcess.js"
import { getStatus, tokenValue } from "./lib/fixtures.js"
import { pairwise, ratios, repetitions, sampleMs } from "./lib/interleave.js"
import { cpuPerRequest, loadAsync, loadEffect, type LoadResult, p99, requestsPerSecond } from "./lib/load.js"
import { fmt, median, spread, table, verdict } from "./lib/stats.js"

const concurrencies = [1, 64] as const
const reps = 2 * repetitions
const durationMs = (2 * sampleMs) / 5
/** Proofs per sample of the proof cost, and calls per sample on the in-process transport. */
const proofsPerSample = 2_000
const inProcessCalls = 20_000
/** "A few µs": how much more than one proof a DPoP request may cost the middleware. */
const allowanceMicros = 5
const nonce = "bench-nonce-1"

/** A token service whose one client, `api`, gets `value` of type `type` without any I/O. */
const tokenService = (
  value: string,
  type: "Bearer" | "DPoP"
): Effect.Effect<TokenService.TokenService.Service, never, Scope.Scope> =>
  Layer.build(
    TokenService.layer({
      clients: {
        api: {
          tokenEndpoint: "http://127.0.0.1:9/token",
          clientId: "bench",
          scope: "api",
          ...(type === "DPoP" ? { dpop: true } : {})
        }
      }
    }).pipe(
      Layer.provide([
        TokenEndpointClient.layerTest(() =>
          Effect.map(DateTime.now, (receivedAt) => AccessToken.make({ value, type, receivedAt, expiresIn: "1 hour" }))
        ),
        TokenCache.layerMemory()
      ])
    )
  ).pipe(Effect.orDie, Effect.map(Context.get(TokenService.TokenService)))

/** µs per call of `call`, run `n` times in one fiber. */
const timePerCall = (call: Effect.Effect<unknown, unknown>, n: number) =>
  Effect.suspend(() => {
    const startedAt = performance.now()
    return Effect.map(
      Effect.gen(function*() {
        for (let i = 0; i < n; i++) yield* call
      }),
      () => ((performance.now() - startedAt) * 1000) / n
    )
  })

/** The proof, and the signature alone, in µs. */
const proofCost = Effect.gen(function*() {
  const key = yield* DPoP.generate()
  const accessToken = Redacted.make(tokenValue("dpop"))
  const url = "http://127.0.0.1:9/test"
  // The bare signature: the same claims, signed by jose with a key of the same kind.
  const { privateKey, publicKey } = yield* Effect.promise(() => Jose.generateKeyPair("ES256"))
  const header = { typ: "dpop+jwt", alg: "ES256", jwk: yield* Effect.promise(() => Jose.exportJWK(publicKey)) }
  const ath = yield* DPoP.accessTokenHash(accessToken)
  const claims = new TextEncoder().encode(JSON.stringify({
    htm: "GET",
    htu: url,
    iat: Math.floor(Date.now() / 1000),
    jti: crypto.randomUUID(),
    nonce,
    ath
  }))
  const results = yield* pairwise(
    {
      signature: timePerCall(
        Effect.promise(() => new Jose.CompactSign(claims).setProtectedHeader(header).sign(privateKey)),
        proofsPerSample
      ),
      proof: timePerCall(DPoP.proof(key, { method: "GET", url, nonce, accessToken }), proofsPerSample)
    },
    [["signature", "proof"]],
    { reps: repetitions }
  )
  const [pair] = results.pairs
  return { signature: pair!.baseline, proof: pair!.variant }
})

/**
 * The middleware's own cost without I/O: a transport that answers at once, with a bearer token and
 * with a DPoP token, paired.
 */
const inProcess = (bearer: TokenService.TokenService.Service, dpop: TokenService.TokenService.Service) =>
  Effect.gen(function*() {
    const transport = HttpClient.makeWith<never, never, never, never>(
      (request) =>
        Effect.map(request, (request) => HttpClientResponse.fromWeb(request, new Response(null, { status: 200 }))),
      Effect.succeed
    )
    const url = "http://127.0.0.1:9/test"
    const results = yield* pairwise(
      {
        bearer: timePerCall(AccessTokenHttpClient.make(transport, bearer, { client: "api" }).get(url), inProcessCalls),
        dpop: timePerCall(AccessTokenHttpClient.make(transport, dpop, { client: "api" }).get(url), inProcessCalls)
      },
      [["bearer", "dpop"]],
      { reps: repetitions }
    )
    const [pair] = results.pairs
    return { bearer: pair!.baseline, dpop: pair!.variant, added: pair!.variant.map((v, i) => v - pair!.baseline[i]!) }
  })

type Key = "bearer" | "dpop" | "openid"

const labels: Record<Key, string> = {
  bearer: "ours, bearer token (baseline)",
  dpop: "ours, DPoP token: a proof per request, API nonce",
  openid: "`openid-client` `fetchProtectedResource`, DPoP handle, API nonce"
}

export const run = Effect.gen(function*() {
  const value = tokenValue("dpop")
  const bearerApi = yield* spawnApi({ API_AUTHORIZATION: `Bearer ${value}` })
  const dpopApi = yield* spawnApi({ API_AUTHORIZATION: `DPoP ${value}`, API_DPOP: "1", API_DPOP_NONCE: nonce })
  const bearerTokens = yield* tokenService(value, "Bearer")
  const dpopTokens = yield* tokenService(value, "DPoP")
  // Tokens are acquired here, outside every measured window.
  yield* bearerTokens.getToken("api")
  yield* dpopTokens.getToken("api")
  const base = yield* HttpClient.HttpClient

  const configuration = new OpenId.Configuration({ issuer: "http://127.0.0.1:9" }, "bench")
  OpenId.allowInsecureRequests(configuration)
  const handle = OpenId.getDPoPHandle(configuration, yield* Effect.promise(() => OpenId.randomDPoPKeyPair("ES256")))
  const openidUrl = new URL(dpopApi.testUrl)
  const openid = () =>
    OpenId.fetchProtectedResource(configuration, value, openidUrl, "GET", undefined, undefined, { DPoP: handle })
      .then(async (response) => {
        await response.arrayBuffer()
        return response.status
      })

  const requests = {
    bearer: getStatus(AccessTokenHttpClient.make(base, bearerTokens, { client: "api" }), bearerApi.testUrl),
    dpop: getStatus(AccessTokenHttpClient.make(base, dpopTokens, { client: "api" }), dpopApi.testUrl)
  }
  // Each client meets the API's nonce challenge once, here, and keeps the nonce.
  yield* requests.dpop
  yield* Effect.promise(openid)

  const rows: Array<Array<string>> = []
  const pairs = [["bearer", "dpop"], ["openid", "dpop"]] as const
  const cpuAdded: Record<number, Array<number>> = {}
  for (const concurrency of concurrencies) {
    const runs: Record<Key, Effect.Effect<LoadResult, unknown>> = {
      bearer: loadEffect(requests.bearer, { concurrency, durationMs }),
      dpop: loadEffect(requests.dpop, { concurrency, durationMs }),
      openid: Effect.promise(() => loadAsync(openid, { concurrency, durationMs }))
    }
    const results = yield* pairwise(runs, pairs, { reps })
    const [vsBearer, vsOpenid] = results.pairs
    cpuAdded[concurrency] = vsBearer!.variant.map((sample, i) =>
      cpuPerRequest(sample) - cpuPerRequest(vsBearer!.baseline[i]!)
    )
    for (const key of ["bearer", "dpop", "openid"] as const) {
      const samples = results.samples[key]
      const ratio = key === "dpop"
        ? spread(ratios(vsBearer!.variant.map(requestsPerSecond), vsBearer!.baseline.map(requestsPerSecond)), 3)
        : key === "openid"
        ? `ours ÷ this: ${
          spread(ratios(vsOpenid!.variant.map(requestsPerSecond), vsOpenid!.baseline.map(requestsPerSecond)), 3)
        }`
        : "1 (baseline)"
      rows.push([
        String(concurrency),
        labels[key],
        spread(samples.map(requestsPerSecond)),
        ratio,
        spread(samples.map(p99), 2),
        spread(samples.map(cpuPerRequest)),
        key === "dpop" ? spread(cpuAdded[concurrency]!) : "",
        String(samples.reduce((sum, sample) => sum + sample.failures, 0))
      ])
    }
  }

  const cost = yield* proofCost
  const own = yield* inProcess(bearerTokens, dpopTokens)
  const beyondProof = median(own.added) - median(cost.proof)
  const met = beyondProof <= allowanceMicros
  const bearerStats = yield* bearerApi.stats
  const dpopStats = yield* dpopApi.stats

  const proofTable = table({
    title: "8. DPoP: the cost of a proof, and of a DPoP request through the middleware",
    columns: ["measure", "µs", `target: ≤ proof + ${allowanceMicros} µs`],
    rows: [
      ["one ES256 signature of the same claims (jose `CompactSign`)", spread(cost.signature, 1), ""],
      ["one proof (`DPoP.proof`: claims, cached `ath`, signature)", spread(cost.proof, 1), ""],
      ["middleware without I/O, bearer token", spread(own.bearer, 1), ""],
      ["middleware without I/O, DPoP token", spread(own.dpop, 1), ""],
      ["what DPoP adds per request (paired difference)", spread(own.added, 1), ""],
      [
        "… beyond one proof (medians)",
        fmt(beyondProof, 1),
        verdict(met)
      ]
    ],
    notes: [
      `Median (min–max) of ${repetitions} paired samples of ${fmt(proofsPerSample)} proofs and ${
        fmt(inProcessCalls)
      } in-process calls each.`
    ]
  })
  const loadTable = table({
    title: "DPoP beside bearer, and beside openid-client, against API processes",
    columns: [
      "concurrency",
      "client",
      "requests/s",
      "requests/s ratio",
      "p99 ms",
      "client CPU µs/request",
      "CPU µs/request added by DPoP",
      "failed"
    ],
    rows,
    notes: [
      `Median (min–max) of ${fmt(durationMs / 1000, 2)}-second samples; DPoP ran back to back with bearer ` +
      `and with openid-client ${reps} times each, in alternating order, and each ratio compares the two samples ` +
      `of one repetition. The DPoP API (another process) verifies every proof's ES256 signature, htm, htu, ath, ` +
      `jti and nonce; it answered ${fmt(dpopStats.requests)} requests, ${
        fmt(dpopStats.unauthorized)
      } with 401 (a nonce challenge per client, once). The bearer API answered ${fmt(bearerStats.requests)}. ` +
      `Target (DPoP costs no more than one proof plus ${allowanceMicros} µs per request, measured without ` +
      `I/O): ${met ? "met" : "**missed**"}.`
    ]
  })
  return `${proofTable}\n\n${loadTable}`
}).pipe(Effect.scoped, Effect.provide(NodeHttpClient.layerUndici))
