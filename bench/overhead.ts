/**
 * Scenario 1, request-path overhead: the same undici `HttpClient` against the same API process,
 * once with a static `Authorization` header and once through the middleware with a cached token,
 * at concurrency 1 and 64, with Effect tracing on (the default) and off.
 */
import { TokenService } from "@access-token/core"
import { AccessTokenHttpClient } from "@access-token/platform"
import { HttpClient, HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { Effect } from "effect"
import { spawnApi } from "./lib/apiProcess.js"
import { countingTracer, fixedTokenService, getStatus, offlineClient, tokenValue } from "./lib/fixtures.js"
import { pairwise, ratios, repetitions, sampleMs } from "./lib/interleave.js"
import { cpuPerRequest, loadEffect, type LoadResult, p50, p99, requestsPerSecond } from "./lib/load.js"
import { fmt, median, spread, table, verdict } from "./lib/stats.js"

const concurrencies = [1, 64] as const
const target = 0.97
// Short samples, three times as many: pairs measured closer together share more of the machine's noise.
const reps = 3 * repetitions
const durationMs = sampleMs / 4

type Key = "bare" | "bareAgain" | "make" | "withAccessToken" | "bareUntraced" | "makeUntraced"

const labels: Record<Key, string> = {
  bare: "bare client, static header",
  bareAgain: "bare client again (A/A: the noise of a ratio)",
  make: "middleware (`make`), cached token",
  withAccessToken: "middleware (`withAccessToken`), cached token",
  bareUntraced: "bare client, static header, tracing off",
  makeUntraced: "middleware (`make`), cached token, tracing off"
}

/** What each middleware variant is compared with. */
const baselineOf: Partial<Record<Key, Key>> = {
  bareAgain: "bare",
  make: "bare",
  withAccessToken: "bare",
  makeUntraced: "bareUntraced"
}

const untraced = new Set<Key>(["bareUntraced", "makeUntraced"])

/** Calls per sample on the in-process transport. */
const inProcessCalls = 10_000

/**
 * The middleware's own cost, without I/O: ns per request through a transport that answers at once
 * (no socket), bare and through `make`, paired. The transport is made with `HttpClient.make`, as
 * every platform client is, so that both sides carry one `http.client` span: the platform's for the
 * bare client, the middleware's own (which never holds the request) in its place through `make`.
 * A transport without a span would charge the middleware for tracing, which costs a traced request
 * tens of microseconds on a small machine whoever makes the span.
 */
const inProcess = (tokens: TokenService.TokenService.Service, header: string) =>
  Effect.gen(function*() {
    const answer = new Response(null, { status: 200 })
    const transport = HttpClient.make((request) => Effect.succeed(HttpClientResponse.fromWeb(request, answer)))
    const url = "http://127.0.0.1:9/test"
    const time = (call: Effect.Effect<unknown, unknown>) =>
      Effect.suspend(() => {
        const startedAt = performance.now()
        return Effect.map(
          Effect.gen(function*() {
            for (let i = 0; i < inProcessCalls; i++) yield* call
          }),
          () => ((performance.now() - startedAt) * 1e6) / inProcessCalls
        )
      })
    const results = yield* pairwise(
      {
        bare: time(
          transport.pipe(HttpClient.mapRequest(HttpClientRequest.setHeader("authorization", header))).get(url)
        ),
        make: time(AccessTokenHttpClient.make(transport, tokens, { client: "api" }).get(url))
      },
      [["bare", "make"]],
      { reps: 2 * repetitions }
    )
    const [pair] = results.pairs
    return {
      bare: median(pair.baseline),
      make: median(pair.variant),
      added: pair.variant.map((nanos, i) => nanos - pair.baseline[i])
    }
  })

export const run = Effect.gen(function*() {
  const value = tokenValue("overhead")
  const header = `Bearer ${value}`
  const api = yield* spawnApi({ API_AUTHORIZATION: header })
  const tokens = yield* fixedTokenService({ clients: { api: offlineClient } }, () => value)
  // The token is acquired here, outside every measured window.
  yield* tokens.getToken("api")
  const base = yield* HttpClient.HttpClient

  const bare = getStatus(
    base.pipe(HttpClient.mapRequest(HttpClientRequest.setHeader("authorization", header))),
    api.testUrl
  )
  const make = getStatus(AccessTokenHttpClient.make(base, tokens, { client: "api" }), api.testUrl)
  const requests: Record<Key, Effect.Effect<number, unknown>> = {
    bare,
    bareAgain: bare,
    make,
    // The service is in the context of the whole run, as it is in a program.
    withAccessToken: getStatus(base.pipe(AccessTokenHttpClient.withAccessToken("api")), api.testUrl).pipe(
      Effect.provideService(TokenService.TokenService, tokens)
    ),
    bareUntraced: bare,
    makeUntraced: make
  }
  const keys = Object.keys(labels) as Array<Key>

  // Spans per request, counted once outside the timed runs: the middleware adds none.
  const spansPerRequest = {} as Record<Key, number>
  for (const key of keys) {
    const { spans, tracer } = yield* countingTracer
    const n = 200
    yield* Effect.replicateEffect(requests[key], n, { discard: true }).pipe(
      Effect.withTracer(tracer),
      Effect.withTracerEnabled(!untraced.has(key))
    )
    spansPerRequest[key] = spans() / n
  }

  const pairs = (Object.keys(baselineOf) as Array<Key>).map((key) => [baselineOf[key]!, key] as const)
  const rows: Array<Array<string>> = []
  let met = true
  /** The bare client's CPU per request at the highest concurrency, where the client is CPU-bound. */
  let bareCpu = Number.NaN
  for (const concurrency of concurrencies) {
    const runs = {} as Record<Key, Effect.Effect<LoadResult, unknown>>
    for (const key of keys) {
      runs[key] = loadEffect(requests[key], { concurrency, durationMs }).pipe(
        Effect.withTracerEnabled(!untraced.has(key))
      )
    }
    const results = yield* pairwise(runs, pairs, { reps })
    for (const key of keys) {
      const samples = results.samples[key]
      const pair = results.pairs[pairs.findIndex(([, variant]) => variant === key)]
      const throughput = pair === undefined
        ? undefined
        : ratios(pair.variant.map(requestsPerSecond), pair.baseline.map(requestsPerSecond))
      const cpu = pair === undefined
        ? undefined
        : ratios(pair.variant.map(cpuPerRequest), pair.baseline.map(cpuPerRequest))
      if (key === "bare") bareCpu = median(samples.map(cpuPerRequest))
      const isMiddleware = throughput !== undefined && key !== "bareAgain"
      const ok = !isMiddleware || median(throughput) >= target
      met &&= ok
      rows.push([
        String(concurrency),
        labels[key],
        spread(samples.map(requestsPerSecond)),
        spread(samples.map(p50), 3),
        spread(samples.map(p99), 3),
        spread(samples.map(cpuPerRequest)),
        throughput === undefined ? "1 (baseline)" : spread(throughput, 3),
        isMiddleware ? verdict(ok) : "",
        cpu === undefined ? "1 (baseline)" : spread(cpu, 3),
        fmt(spansPerRequest[key], 1),
        String(samples.reduce((sum, sample) => sum + sample.failures, 0))
      ])
    }
  }
  const own = yield* inProcess(tokens, header)
  const share = median(own.added) / 1000 / bareCpu
  const stats = yield* api.stats
  return table({
    title: "1. Request-path overhead: bare client vs middleware with a cached token",
    columns: [
      "concurrency",
      "client",
      "requests/s",
      "p50 ms",
      "p99 ms",
      "client CPU µs/request",
      "requests/s ratio to bare",
      `≥ ${target}`,
      "CPU/request ratio to bare",
      "spans/request",
      "failed"
    ],
    rows,
    notes: [
      `Median (min–max) of ${fmt(durationMs / 1000, 2)}-second samples: each middleware variant and its bare ` +
      `baseline run back to back ${reps} times, in alternating order (A B, B A, ...); each ratio compares the ` +
      `two samples of one repetition. The API (another process) answered ` +
      `${fmt(stats.requests)} requests, ${fmt(stats.unauthorized)} with 401. Target (median ratio ≥ ${target} at ` +
      `both concurrencies): ${met ? "met" : "**missed**"}.`,
      "",
      `Without I/O (a traced transport that answers at once, ${fmt(inProcessCalls)} calls per sample, ${
        2 * repetitions
      } pairs) the middleware adds ${spread(own.added)} ns per request (bare ${fmt(own.bare)} ns, \`make\` ${
        fmt(own.make)
      } ns): ${fmt(100 * share, 2)} % of the bare client's CPU per request at concurrency 64 (${
        fmt(bareCpu)
      } µs), the most a CPU-bound client can lose to it (a ratio of ${fmt(1 / (1 + share), 3)}).`
    ]
  })
}).pipe(Effect.scoped, Effect.provide(NodeHttpClient.layerUndici))
