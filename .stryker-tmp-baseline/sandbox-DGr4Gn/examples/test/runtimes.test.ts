// @ts-nocheck
import { ProtectedApi, TokenServer } from "@access-token/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { execFile } from "node:child_process"
import * as path from "node:path"
import { promisify } from "node:util"

const run = promisify(execFile)

const root = path.resolve(import.meta.dirname, "..", "..")
const bin = (name: string) => path.join(root, "node_modules", ".bin", name)
const program = path.join(root, "examples", "runtimes", "program.ts")

// The program imports @access-token/core and @access-token/platform as a user would: from their
// package.json exports, that is from dist/. `tsc -b` brings dist up to date (at once when it is).
const built = run(bin("tsc"), ["-b", path.join(root, "packages", "platform", "tsconfig.build.json")], { cwd: root })

const clientId = "other-runtime"
const clientSecret = "runtime-secret-4f1d"

const Servers = ProtectedApi.layer().pipe(
  Layer.provideMerge(TokenServer.layer({ clients: [{ clientId, clientSecret }] }))
)

/** Runs the program on `runtime` against the embedded token server and API, and parses what it printed. */
const runOn = (command: string, args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    yield* Effect.promise(() => built)
    const server = yield* TokenServer.TokenServer
    const api = yield* ProtectedApi.ProtectedApi
    const before = yield* server.tokenRequestCount
    const { stdout } = yield* Effect.promise(() =>
      run(command, [...args, program], {
        cwd: path.join(root, "examples"),
        timeout: 120_000,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          // Deno keeps its cache here; Bun its transpiler cache.
          DENO_DIR: process.env.DENO_DIR,
          NO_COLOR: "1",
          TOKEN_ENDPOINT: server.tokenEndpoint,
          CLIENT_ID: clientId,
          CLIENT_SECRET: clientSecret,
          SCOPE: "api",
          API_BASE_URL: api.baseUrl
        }
      })
    )
    const lines = stdout.trim().split("\n")
    const result = JSON.parse(lines[lines.length - 1]) as {
      readonly runtime: string
      readonly first: ReadonlyArray<{ readonly type: string; readonly value: string }>
      readonly second: ReadonlyArray<{ readonly type: string; readonly value: string }>
      readonly tokenType: string
      readonly logged: string
    }
    return { result, stdout, tokenRequests: (yield* server.tokenRequestCount) - before }
  })

const claim = (claims: ReadonlyArray<{ readonly type: string; readonly value: string }>, type: string) =>
  claims.find((claim) => claim.type === type)?.value

const check = (
  expected: string,
  { result, stdout, tokenRequests }: Effect.Effect.Success<ReturnType<typeof runOn>>
) => {
  assert.strictEqual(result.runtime, expected)
  // The API saw a token of the client, with the scope asked for, and the second call reused it.
  assert.strictEqual(claim(result.first, "client_id"), clientId)
  assert.strictEqual(claim(result.first, "scope"), "api")
  assert.strictEqual(claim(result.second, "jti"), claim(result.first, "jti"))
  assert.strictEqual(tokenRequests, 1)
  assert.strictEqual(result.tokenType, "Bearer")
  // The token stays redacted there too.
  assert.strictEqual(result.logged, "<redacted>")
  assert.isFalse(stdout.includes(clientSecret))
}

describe("examples/runtimes/program.ts on other runtimes", () => {
  it.layer(Servers, { timeout: 240_000 })((it) => {
    it.effect(
      "runs on Bun with FetchHttpClient",
      () => Effect.map(runOn(bin("bun"), ["run", "--no-install"]), (run) => check("bun", run)),
      { timeout: 240_000 }
    )

    it.effect("runs on Deno with FetchHttpClient", () =>
      Effect.map(
        runOn(bin("deno"), ["run", "--no-prompt", "--allow-net=127.0.0.1", "--allow-env", "--allow-read"]),
        (run) => check("deno", run)
      ), { timeout: 240_000 })
  })
})
