/**
 * The worker of `worker.ts`, observed with OpenTelemetry through `@effect/opentelemetry`: every token
 * acquisition, token request and API call is a span (`TokenService.acquire`,
 * `TokenEndpointClient.requestToken`, `http.client GET`, ...), and the token counters
 * (`access_token_token_requests`, `access_token_cache_hits`, ...) are exported as metrics.
 *
 * Traces and metrics go to the console, or over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set
 * (for example `http://localhost:4318` for a local collector or Jaeger); `OTEL_SERVICE_NAME` names
 * the service, `OTEL_BSP_SCHEDULE_DELAY` and `OTEL_METRIC_EXPORT_INTERVAL` (milliseconds) set the
 * pace of the exports. No secret and no token is ever in a span, a log or a metric.
 *
 *     npx tsx examples/opentelemetry.ts
 *     OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 npx tsx examples/opentelemetry.ts
 */
// @ts-nocheck

import { TokenService } from "@access-token/core"
import { AccessTokenHttpClient } from "@access-token/platform"
import { ProtectedApi, TokenServer } from "@access-token/testing"
import { NodeSdk } from "@effect/opentelemetry"
import { HttpClient } from "@effect/platform"
import { NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import { OTLPMetricExporter } from "@opentelemetry/exporter-metrics-otlp-http"
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http"
import { ConsoleMetricExporter, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics"
import { BatchSpanProcessor, ConsoleSpanExporter } from "@opentelemetry/sdk-trace-base"
import { Config, DateTime, Effect, Layer, Option, Schedule } from "effect"
import * as Url from "node:url"

/**
 * Traces and metrics to the OTLP endpoint of `OTEL_EXPORTER_OTLP_ENDPOINT` when it is set (the OTLP
 * exporters read it, and the other `OTEL_EXPORTER_OTLP_*` variables, themselves), to the console
 * otherwise. Logs stay on the console, through Effect's logger.
 */
export const TelemetryLive = Layer.unwrapEffect(
  Effect.gen(function*() {
    const otlp = Option.isSome(yield* Config.option(Config.string("OTEL_EXPORTER_OTLP_ENDPOINT")))
    const serviceName = yield* Config.string("OTEL_SERVICE_NAME").pipe(Config.withDefault("access-token-worker"))
    // The OpenTelemetry variables for the export pace, which the SDK's processor and reader no
    // longer read themselves: milliseconds between batches of spans, and between metric exports.
    const spanDelay = yield* Config.integer("OTEL_BSP_SCHEDULE_DELAY").pipe(Config.withDefault(5_000))
    const metricInterval = yield* Config.integer("OTEL_METRIC_EXPORT_INTERVAL").pipe(Config.withDefault(10_000))
    return NodeSdk.layer(() => ({
      resource: { serviceName },
      spanProcessor: new BatchSpanProcessor(otlp ? new OTLPTraceExporter() : new ConsoleSpanExporter(), {
        scheduledDelayMillis: spanDelay
      }),
      metricReader: new PeriodicExportingMetricReader({
        exporter: otlp ? new OTLPMetricExporter() : new ConsoleMetricExporter(),
        exportIntervalMillis: metricInterval
      })
    }))
  })
)

/**
 * An authenticated `HttpClient` for an API and a token server started in this process, and the
 * `TokenService` behind it.
 */
export const ApiClientLive = (options?: TokenServer.Options) =>
  Layer.unwrapScoped(Effect.gen(function*() {
    const server = yield* TokenServer.make(options)
    const api = yield* ProtectedApi.make().pipe(Effect.provideService(TokenServer.TokenServer, server))
    const [client] = server.clients
    const tokens = TokenService.layerDefault({
      clients: {
        identityserver: {
          tokenEndpoint: server.tokenEndpoint,
          clientId: client.clientId,
          clientSecret: client.clientSecret,
          scope: "api"
        }
      }
    }).pipe(Layer.provide(NodeHttpClient.layerUndici))
    return AccessTokenHttpClient.layer({ client: "identityserver", baseUrl: api.baseUrl }).pipe(
      Layer.provideMerge(tokens),
      Layer.provide(NodeHttpClient.layerUndici)
    )
  }))

/** One cycle of the worker, in a span of its own so that each cycle is one trace. */
export const cycle = Effect.gen(function*() {
  const client = yield* HttpClient.HttpClient
  yield* Effect.logInfo(`Worker running at: ${DateTime.formatIso(yield* DateTime.now)}`)
  const response = yield* client.get("test").pipe(Effect.flatMap((response) => response.text))
  yield* Effect.logInfo(`API response: ${response}`)
}).pipe(
  Effect.catchAll((error) => Effect.logError(`API call failed: ${error.message}`)),
  Effect.withSpan("worker.cycle")
)

const worker = Effect.gen(function*() {
  const interval = yield* Config.duration("WORKER_INTERVAL").pipe(Config.withDefault("5 seconds"))
  yield* cycle.pipe(Effect.repeat(Schedule.spaced(interval)))
})

// Run only as a program, so that the test can import the layers and the cycle.
if (process.argv[1] !== undefined && import.meta.url === Url.pathToFileURL(process.argv[1]).href) {
  worker.pipe(
    Effect.provide(ApiClientLive()),
    Effect.provide(TelemetryLive),
    NodeRuntime.runMain
  )
}
