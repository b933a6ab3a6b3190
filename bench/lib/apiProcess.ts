/**
 * Starts `apiServer.ts` in a child process for the length of a scope.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import { fileURLToPath } from "node:url"

export interface ApiProcess {
  /** `http://127.0.0.1:PORT/` */
  readonly baseUrl: string
  /** `GET test` on it. */
  readonly testUrl: string
  readonly stats: Effect.Effect<{ readonly requests: number; readonly unauthorized: number }>
  /** Closes the server's idle keep-alive connections. */
  readonly closeIdle: Effect.Effect<void>
}

const children = new Set<ChildProcess.ChildProcess>()
// Whatever happens to the benchmark, no API process outlives it.
process.once("exit", () => {
  for (const child of children) child.kill("SIGKILL")
})

const script = fileURLToPath(new URL("../apiServer.ts", import.meta.url))

/** Spawns the API with its settings in `env` (see `apiServer.ts`); the scope's end kills it. */
export const spawnApi = (env: Readonly<Record<string, string>>): Effect.Effect<ApiProcess, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ readonly child: ChildProcess.ChildProcess; readonly port: number }>((resume) => {
      const child = ChildProcess.spawn(process.execPath, ["--import", "tsx", script], {
        stdio: ["pipe", "pipe", "inherit"],
        env: { ...process.env, ...env }
      })
      children.add(child)
      let output = ""
      const onData = (chunk: Buffer) => {
        output += chunk.toString()
        const line = output.indexOf("\n")
        if (line === -1) return
        child.stdout!.off("data", onData)
        resume(Effect.succeed({ child, port: (JSON.parse(output.slice(0, line)) as { port: number }).port }))
      }
      child.stdout!.on("data", onData)
      child.once("exit", (code) => resume(Effect.dieMessage(`the API process exited early (${code})`)))
    }).pipe(
      Effect.timeoutFail({ duration: "30 seconds", onTimeout: () => new Error("the API process did not start") })
    ),
    ({ child }) =>
      Effect.async<void>((resume) => {
        children.delete(child)
        if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
        child.once("exit", () => resume(Effect.void))
        child.stdin!.end()
        child.kill("SIGTERM")
      })
  ).pipe(
    Effect.orDie,
    Effect.map(({ port }) => {
      const baseUrl = `http://127.0.0.1:${port}/`
      return {
        baseUrl,
        testUrl: `${baseUrl}test`,
        stats: Effect.promise(() =>
          fetch(`${baseUrl}stats`).then((response) =>
            response.json() as Promise<{ readonly requests: number; readonly unauthorized: number }>
          )
        ),
        closeIdle: Effect.promise(() => fetch(`${baseUrl}close-idle`).then((response) => response.text())).pipe(
          Effect.zipRight(Effect.sleep("200 millis"))
        )
      }
    })
  )
