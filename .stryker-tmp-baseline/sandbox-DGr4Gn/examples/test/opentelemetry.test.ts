// @ts-nocheck
import { TokenService } from "@access-token/core"
import { LoopbackServer } from "@access-token/testing"
import { NodeSdk } from "@effect/opentelemetry"
import type { HttpClient } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { InMemoryLogRecordExporter, SimpleLogRecordProcessor } from "@opentelemetry/sdk-logs"
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  PeriodicExportingMetricReader
} from "@opentelemetry/sdk-metrics"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Effect, Layer, Redacted } from "effect"
import { ApiClientLive, cycle } from "../opentelemetry.js"
import { interrupt, run } from "./utils/run.js"
import { readTable, suggestRow } from "./utils/telemetryTable.js"

// A secret no other string of the run can contain by chance.
const clientId = "otel-worker"
const clientSecret = "otel-sentinel-9c41e7b2-d5f0-4c1e-a6b3-secret"

/** The example's worker, its telemetry going to in-memory exporters instead of the console. */
const observe = <A, E>(program: Effect.Effect<A, E, HttpClient.HttpClient | TokenService.TokenService>) =>
  Effect.gen(function*() {
    const spans = new InMemorySpanExporter()
    const logs = new InMemoryLogRecordExporter()
    const metrics = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
    // Exported on demand only: forceFlush below.
    const reader = new PeriodicExportingMetricReader({ exporter: metrics, exportIntervalMillis: 3_600_000 })
    const Telemetry = NodeSdk.layer(() => ({
      resource: { serviceName: "access-token-worker-test" },
      spanProcessor: new SimpleSpanProcessor(spans),
      metricReader: reader,
      logRecordProcessor: new SimpleLogRecordProcessor({ exporter: logs })
    }))
    const Worker = ApiClientLive({
      clients: [{ clientId, clientSecret, tokenEndpointAuthMethod: "client_secret_basic" }]
    })
    // The exporters forget everything when the layer shuts them down: read them before.
    return yield* Effect.gen(function*() {
      const result = yield* program
      yield* Effect.promise(() => reader.forceFlush())
      return {
        result,
        spans: spans.getFinishedSpans(),
        logs: logs.getFinishedLogRecords(),
        metrics: metrics.getMetrics()
      }
    }).pipe(Effect.provide(Layer.merge(Worker, Telemetry)))
  })

describe("examples/opentelemetry.ts", () => {
  it.live(
    "exports the token acquisition, the HTTP calls and the token metrics, and no secret or token",
    () =>
      Effect.gen(function*() {
        const { logs, metrics, result: token, spans } = yield* observe(
          Effect.gen(function*() {
            yield* cycle
            yield* cycle
            // The token the worker used, from its cache.
            return yield* TokenService.getToken("identityserver")
          })
        )

        const names = spans.map((span) => span.name)
        const acquire = spans.find((span) => span.name === "TokenService.acquire")
        assert.isDefined(acquire, `no TokenService.acquire span among ${names.join(", ")}`)
        assert.strictEqual(acquire!.attributes["oauth.client.name"], "identityserver")
        assert.strictEqual(acquire!.attributes["outcome"], "success")
        const request = spans.find((span) => span.name === "TokenEndpointClient.requestToken")
        assert.isDefined(request, `no TokenEndpointClient.requestToken span among ${names.join(", ")}`)
        assert.strictEqual(request!.attributes["url.path"], "/token")
        // No http.client span for the token request: it would keep the request, secret included.
        assert.isUndefined(spans.find((span) => span.name === "http.client POST"))
        // One API call per cycle; the second used the cached token.
        const gets = spans.filter((span) => span.name === "http.client GET")
        assert.strictEqual(gets.length, 2)
        assert.strictEqual(spans.filter((span) => span.name === "TokenService.acquire").length, 1)

        // Cumulative, and exported more than once: the last export holds the totals.
        const points = new Map<string, number>()
        for (const resource of metrics.slice(-1)) {
          for (const scope of resource.scopeMetrics) {
            for (const metric of scope.metrics) {
              for (const point of metric.dataPoints) {
                if (point.attributes["client"] !== "identityserver") continue
                points.set(metric.descriptor.name, (points.get(metric.descriptor.name) ?? 0) + Number(point.value))
              }
            }
          }
        }
        assert.strictEqual(points.get("access_token_token_requests"), 1)
        assert.strictEqual(points.get("access_token_cache_misses"), 1)
        // The second cycle and the test's own look-up.
        assert.strictEqual(points.get("access_token_cache_hits"), 2)

        assert.isTrue(
          logs.some((log) => String(log.body).startsWith("API response:")),
          "the worker's logs were exported"
        )

        // What was exported is what the core README's table says.
        const rows = readTable()
        const undocumented: Array<string> = []
        for (const span of spans) {
          if (span.name.startsWith("http.client ") || span.name === "worker.cycle") continue
          const row = rows.find((row) => row.kind === "span" && row.name === span.name)
          const keys = Object.keys(span.attributes)
          if (row === undefined || keys.some((key) => !row.keys.has(key))) {
            undocumented.push(suggestRow("span", span.name, keys))
          }
        }
        for (const metric of metrics.flatMap((resource) => resource.scopeMetrics.flatMap((scope) => scope.metrics))) {
          if (!metric.descriptor.name.startsWith("access_token_")) continue
          const row = rows.find((row) => row.kind === "metric" && row.name === metric.descriptor.name)
          const keys = new Set(metric.dataPoints.flatMap((point) => Object.keys(point.attributes)))
          if (row === undefined || Array.from(keys).some((key) => !row.keys.has(key))) {
            undocumented.push(suggestRow("metric", metric.descriptor.name, keys))
          }
        }
        assert.deepStrictEqual(undocumented, [], `the core README's table lacks:\n${undocumented.join("\n")}`)

        const exported = JSON.stringify({
          spans: spans.map((span) => ({
            name: span.name,
            attributes: span.attributes,
            events: span.events,
            status: span.status,
            links: span.links
          })),
          logs: logs.map((log) => ({ body: log.body, attributes: log.attributes })),
          metrics
        })
        const value = Redacted.value(token.value)
        const basic = Buffer.from(`${clientId}:${clientSecret}`).toString("base64")
        for (
          const [what, secret] of [["client secret", clientSecret], ["access token", value], [
            "Basic credentials",
            basic
          ]]
        ) {
          assert.isFalse(exported.includes(secret), `the ${what} was exported`)
        }
        // Nor any other JWT (a token, an assertion): two base64url JSON segments and a signature.
        assert.notMatch(exported, /eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/)
      }),
    { timeout: 60_000 }
  )
})

describe("examples/opentelemetry.ts over OTLP/HTTP", () => {
  it.scoped(
    "exports its spans and metrics to the collector of OTEL_EXPORTER_OTLP_ENDPOINT, and no secret or token",
    () =>
      Effect.gen(function*() {
        // A collector on loopback: it takes every export (OTLP/HTTP, JSON) and records it.
        const collector = yield* LoopbackServer.make((_, response) => {
          response.writeHead(200, { "content-type": "application/json" }).end("{}")
        })
        const worker = run("opentelemetry.ts", {
          OTEL_EXPORTER_OTLP_ENDPOINT: collector.origin,
          OTEL_SERVICE_NAME: "otlp-test-worker",
          OTEL_BSP_SCHEDULE_DELAY: "100",
          OTEL_METRIC_EXPORT_INTERVAL: "300"
        })
        const bodies = (path: string) =>
          collector.requests.filter((request) => request.method === "POST" && request.path === path).map((request) =>
            request.body
          )
        const arrived = () =>
          bodies("/v1/traces").some((body) => body.includes("TokenEndpointClient.requestToken")) &&
          bodies("/v1/metrics").some((body) =>
            body.includes("access_token_token_requests") && body.includes("access_token_cache_hits")
          )
        yield* Effect.promise(async () => {
          const deadline = Date.now() + 20_000
          while (!arrived() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100))
        }).pipe(Effect.ensuring(Effect.promise(() => interrupt(worker))))
        assert.isTrue(arrived(), `exports received: ${collector.requests.map((request) => request.path).join(", ")}`)
        const traces = bodies("/v1/traces").join("\n")
        for (const span of ["TokenService.acquire", "http.client GET", "worker.cycle"]) assert.include(traces, span)
        assert.include(traces, "otlp-test-worker")
        // The embedded server's client is m2m:secret, sent in a Basic header; its tokens are JWTs.
        const exported = collector.requests.map((request) => request.body).join("\n")
        for (const secret of ["bTJtOnNlY3JldA", "client_secret", "m2m:secret"]) assert.notInclude(exported, secret)
        assert.notMatch(exported, /eyJ[\w-]+\.[\w-]+\.[\w-]+/, "no token")
        assert.strictEqual(worker.errors(), "")
      }),
    40_000
  )
})
