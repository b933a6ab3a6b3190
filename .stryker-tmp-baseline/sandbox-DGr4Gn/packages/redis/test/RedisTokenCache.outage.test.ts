/**
 * A Redis outage is reported, not repeated: one warning when the shared cache stops answering, one
 * info line when it is back, every failure counted by the metric, and no warning per acquisition.
 */
// @ts-nocheck

import { AccessToken, TokenCache, TokenEndpointClient, TokenMetrics, TokenService } from "@access-token/core"
import { RedisTokenCache } from "@access-token/redis"
import { RedisServer } from "@access-token/testing"
import { assert, layer } from "@effect/vitest"
import { DateTime, Duration, Effect, Layer, Logger, Metric, Redacted, Schedule } from "effect"
import * as crypto from "node:crypto"

const SECRET = "cl1ent-s3cr3t-Sentinel"

/** A scripted token endpoint that counts its requests and issues `token-<n>`. */
const countingEndpoint = () => {
  const state = { requests: 0 }
  const layer = TokenEndpointClient.layerTest(() =>
    Effect.suspend(() => {
      const n = ++state.requests
      return Effect.map(DateTime.now, (receivedAt) =>
        AccessToken.make({ value: `token-${n}`, receivedAt, expiresIn: Duration.hours(1) }))
    })
  )
  return { state, layer }
}

const failures = Metric.tagged(TokenMetrics.cacheFailures, "client", "worker")

layer(RedisServer.layerUrl, { excludeTestServices: true, timeout: "20 seconds" })("RedisTokenCache outage", (it) => {
  it.scoped("logs one warning when Redis goes, one info line when it is back, and counts every failure", () => {
    const lines: Array<string> = []
    const logger = Logger.replace(
      Logger.defaultLogger,
      Logger.map(Logger.logfmtLogger, (line) => {
        lines.push(line)
      })
    )
    return Effect.gen(function*() {
      const server = yield* RedisServer.make
      const cache = yield* RedisTokenCache.make({
        url: server.url,
        prefix: `access-token-test:${crypto.randomUUID()}:`,
        commandTimeout: "300 millis"
      })
      const endpoint = countingEndpoint()
      const service = yield* TokenService.make({
        clients: {
          worker: {
            tokenEndpoint: "https://auth.example.com/connect/token",
            clientId: "worker",
            clientSecret: Redacted.make(SECRET)
          }
        }
      }).pipe(Effect.provide(Layer.merge(Layer.succeed(TokenCache.TokenCache, cache), endpoint.layer)))
      // Each acquisition asks for a token not yet in process, so that each goes to Redis.
      let n = 0
      const acquire = Effect.suspend(() => service.getToken("worker", { scope: `scope-${n++}` }))

      yield* acquire
      const before = (yield* Metric.value(failures)).count
      yield* server.kill
      for (let i = 0; i < 6; i++) yield* acquire
      const during = (yield* Metric.value(failures)).count - before
      assert.isAtLeast(during, 6, "every acquisition of the outage met a failure")
      assert.strictEqual(endpoint.state.requests, 7)

      yield* server.restart
      yield* cache.get("worker:probe").pipe(
        Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo("5 seconds")))
      )
      yield* acquire
      yield* acquire

      const warnings = lines.filter((line) => line.includes("level=WARN"))
      assert.strictEqual(warnings.length, 1, warnings.join("\n"))
      assert.include(warnings[0], "until it answers again")
      const infos = lines.filter((line) => line.includes("level=INFO"))
      assert.strictEqual(infos.length, 1, infos.join("\n"))
      assert.include(infos[0], "answers again")
      for (const line of lines) assert.isFalse(/token-\d/.test(line) || line.includes(SECRET), line)
    }).pipe(Effect.provide(logger))
  })
})
