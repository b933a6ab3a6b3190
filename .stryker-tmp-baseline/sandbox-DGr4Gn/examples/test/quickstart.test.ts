/**
 * The README's quick start runs against the token endpoint and API of its environment, and a
 * transient failure fails one cycle, not the worker.
 */
// @ts-nocheck

import { LoopbackServer, TokenServer } from "@access-token/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { interrupt, run } from "./utils/run.js"

describe("examples/quickstart.ts", () => {
  it.scoped("survives an API that drops its first connection, and carries on", () =>
    Effect.gen(function*() {
      const server = yield* TokenServer.make({
        clients: [{ clientId: "quickstart", clientSecret: "quickstart-secret", scopes: ["api"] }]
      })
      // An API whose first request loses its connection: a transport failure in the first cycle.
      const api = yield* LoopbackServer.make((request, response, n) => {
        if (n === 1) {
          response.socket?.destroy()
          return
        }
        const authorized = request.headers.authorization?.startsWith("Bearer ") === true
        response.writeHead(authorized ? 200 : 401, { "content-type": "application/json" })
        response.end(JSON.stringify({ authorized, n }))
      })
      const worker = run("quickstart.ts", {
        API_TOKEN_ENDPOINT: server.tokenEndpoint,
        API_CLIENT_ID: "quickstart",
        API_CLIENT_SECRET: Redacted.value(server.clients[0].clientSecret),
        API_SCOPE: "api",
        API_BASE_URL: `${api.origin}/`
      })
      yield* Effect.promise(() =>
        worker.waitFor("API response:", 2).catch((error) => {
          worker.child.kill("SIGKILL")
          throw error
        })
      )
      const exit = yield* Effect.promise(() => interrupt(worker))
      const output = worker.output()
      assert.include(output, "API call failed")
      assert.include(output, `"authorized":true`)
      assert.isBelow(output.indexOf("API call failed"), output.indexOf("API response:"))
      assert.notInclude(output, "quickstart-secret")
      assert.isBelow(exit.elapsed, 2000)
    }), 60_000)
})
