/**
 * The worker of `worker.ts` with a readiness endpoint for an orchestrator (a Kubernetes readiness
 * probe, a supervisor): `GET /ready` answers `200` once every client's token flows and `503` until
 * then, and again while its tokens fail, with the token service's readiness view as JSON.
 *
 * The endpoint is up before the token service, so a probe sees the start. The service acquires its
 * tokens while it starts (warm-up); with fail-fast, a client the token endpoint refuses
 * (`invalid_client`, `unauthorized_client`) stops the process at start with that error, while a
 * transient failure (transport, `5xx`, `429`) is retried in the background and shows on `/ready`.
 *
 * Configured like `worker.ts` (`settings.ts`: the embedded token server and API, or `IDENTITYSERVER_*`
 * and `API_BASE_URL`); `READY_PORT` is the endpoint's port (default 8080, `0` for any free one).
 */
import type { TokenReadiness } from "@access-token/core"
import { TokenService } from "@access-token/core"
import { AccessTokenHttpClient } from "@access-token/platform"
import { HttpClient, HttpRouter, HttpServer, HttpServerResponse } from "@effect/platform"
import { NodeHttpClient, NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Config, Context, DateTime, Deferred, Effect, Layer, Logger, Option, Schedule } from "effect"
import { createServer } from "node:http"
import { settings } from "./settings.js"

const iso = (at: DateTime.Utc | undefined) => at === undefined ? undefined : DateTime.formatIso(at)

/** The view as JSON: instants as ISO strings. It holds no secret and no token. */
const toJson = (readiness: TokenReadiness.Readiness) => ({
  ready: readiness.ready,
  clients: readiness.clients.map((client) => ({
    client: client.client,
    ready: client.ready,
    tokens: client.tokens.map((token) => ({
      ...token,
      usableUntil: iso(token.usableUntil),
      lastSuccess: iso(token.lastSuccess),
      lastFailure: token.lastFailure === undefined ? undefined : { ...token.lastFailure, at: iso(token.lastFailure.at) }
    }))
  }))
})

/** `GET /ready`, answered from the token service once it is built, `503` before. */
const readinessServer = (tokens: Deferred.Deferred<TokenService.TokenService.Service>) =>
  HttpRouter.empty.pipe(
    HttpRouter.get(
      "/ready",
      Effect.flatMap(Deferred.poll(tokens), (service) =>
        Option.isNone(service)
          ? HttpServerResponse.json({ ready: false, starting: true }, { status: 503 })
          : Effect.flatMap(
            Effect.flatMap(service.value, (service) => service.readiness),
            (readiness) => HttpServerResponse.json(toJson(readiness), { status: readiness.ready ? 200 : 503 })
          ))
    ),
    HttpServer.serve(),
    Layer.provideMerge(
      Layer.unwrapEffect(
        Effect.map(
          Config.integer("READY_PORT").pipe(Config.withDefault(8080)),
          (port) => NodeHttpServer.layer(createServer, { port, host: "127.0.0.1" })
        )
      )
    )
  )

const program = Effect.gen(function*() {
  const tokens = yield* Deferred.make<TokenService.TokenService.Service>()
  const server = yield* Layer.build(readinessServer(tokens))
  const address = Context.get(server, HttpServer.HttpServer).address
  if (address._tag === "TcpAddress") {
    yield* Effect.logInfo(`Readiness endpoint at http://127.0.0.1:${address.port}/ready`)
  }

  const { apiBaseUrl, client: identityserver } = yield* settings
  const live = AccessTokenHttpClient.layer({ client: "identityserver", baseUrl: apiBaseUrl }).pipe(
    Layer.provideMerge(
      TokenService.layerDefault({
        clients: { identityserver },
        warmUp: true,
        failFast: true
      })
    ),
    Layer.provide(NodeHttpClient.layerUndici)
  )
  const context = yield* Layer.build(live)
  yield* Deferred.succeed(tokens, Context.get(context, TokenService.TokenService))

  const client = Context.get(context, HttpClient.HttpClient)
  const interval = yield* Config.duration("WORKER_INTERVAL").pipe(Config.withDefault("5 seconds"))
  yield* client.get("test").pipe(
    Effect.flatMap((response) => response.text),
    Effect.flatMap((text) => Effect.logInfo(`API response: ${text}`)),
    Effect.catchAll((error) => Effect.logError(`API call failed: ${error.message}`)),
    Effect.repeat(Schedule.spaced(interval))
  )
})

program.pipe(
  Effect.scoped,
  Effect.provide(Logger.pretty),
  NodeRuntime.runMain
)
