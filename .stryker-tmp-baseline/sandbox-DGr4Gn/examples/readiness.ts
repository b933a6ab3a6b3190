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
 * Tenants found at run time show on `/ready` too: `TENANTS=acme,globex` names them, each configured
 * as `TENANT_ACME_TOKEN_ENDPOINT`, `TENANT_ACME_CLIENT_ID`, ... and resolved when first asked for.
 * The worker gets each tenant's token every cycle; `/ready` summarises them under `resolved` (how
 * many are held, ready, usable, failing, and the latest failures by tenant) and, with tenants, is
 * `200` only once at least one tenant's tokens flow (`resolvedClientReadiness: "anyReady"`): one
 * refused tenant does not take the worker out of service, every tenant failing does. A token that
 * is not ready says why (`reason`: `never-tried`, `requesting`, `failing` with `lastFailure.message`);
 * a usable one says when its background renewal starts (`refreshFrom`).
 *
 * Configured like `worker.ts` (`settings.ts`: the embedded token server and API, or `IDENTITYSERVER_*`
 * and `API_BASE_URL`); `READY_PORT` is the endpoint's port (default 8080, `0` for any free one).
 */
// @ts-nocheck

import type { TokenReadiness } from "@access-token/core"
import { ClientCredentialsClient, TokenService } from "@access-token/core"
import { AccessTokenHttpClient } from "@access-token/platform"
import { HttpClient, HttpRouter, HttpServer, HttpServerResponse } from "@effect/platform"
import { NodeHttpClient, NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Config, Context, DateTime, Deferred, Effect, Layer, Logger, Option, Schedule } from "effect"
import { createServer } from "node:http"
import { settings } from "./settings.js"

const iso = (at: DateTime.Utc | undefined) => at === undefined ? undefined : DateTime.formatIso(at)

const failureJson = <F extends TokenReadiness.Failure>(failure: F | undefined) =>
  failure === undefined ? undefined : { ...failure, at: iso(failure.at) }

/** The view as JSON: instants as ISO strings. It holds no secret and no token. */
const toJson = (readiness: TokenReadiness.Readiness) => ({
  ready: readiness.ready,
  clients: readiness.clients.map((client) => ({
    client: client.client,
    ready: client.ready,
    reason: client.reason,
    tokens: client.tokens.map((token) => ({
      ...token,
      usableUntil: iso(token.usableUntil),
      refreshFrom: iso(token.refreshFrom),
      lastSuccess: iso(token.lastSuccess),
      lastFailure: failureJson(token.lastFailure)
    }))
  })),
  resolved: readiness.resolved === undefined ? undefined : {
    ...readiness.resolved,
    recentFailures: readiness.resolved.recentFailures.map(failureJson)
  }
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
  const tenants = yield* Config.array(Config.string(), "TENANTS").pipe(Config.withDefault([]))
  const live = AccessTokenHttpClient.layer({ client: "identityserver", baseUrl: apiBaseUrl }).pipe(
    Layer.provideMerge(
      TokenService.layerDefault({
        clients: { identityserver },
        warmUp: true,
        failFast: true,
        resolveClient: (tenant) => ClientCredentialsClient.config(`TENANT_${tenant.toUpperCase()}`),
        // Without tenants, none would ever be held, and the worker never ready.
        resolvedClientReadiness: tenants.length > 0 ? "anyReady" : "ignore"
      })
    ),
    Layer.provide(NodeHttpClient.layerUndici)
  )
  const context = yield* Layer.build(live)
  yield* Deferred.succeed(tokens, Context.get(context, TokenService.TokenService))

  const client = Context.get(context, HttpClient.HttpClient)
  const service = Context.get(context, TokenService.TokenService)
  const interval = yield* Config.duration("WORKER_INTERVAL").pipe(Config.withDefault("5 seconds"))
  // Each cycle: the API call, and each tenant's token (the work done on its behalf, in a real worker).
  const tenantToken = (tenant: string) =>
    service.getToken(tenant).pipe(
      Effect.matchEffect({
        onFailure: (error) => Effect.logWarning(`Tenant ${tenant}: ${error.message}`),
        onSuccess: () => Effect.logInfo(`Tenant ${tenant}: token in hand`)
      })
    )
  yield* client.get("test").pipe(
    Effect.flatMap((response) => response.text),
    Effect.flatMap((text) => Effect.logInfo(`API response: ${text}`)),
    Effect.catchAll((error) => Effect.logError(`API call failed: ${error.message}`)),
    Effect.zipRight(Effect.forEach(tenants, tenantToken, { concurrency: "unbounded", discard: true })),
    Effect.repeat(Schedule.spaced(interval))
  )
})

program.pipe(
  Effect.scoped,
  Effect.provide(Logger.pretty),
  NodeRuntime.runMain
)
