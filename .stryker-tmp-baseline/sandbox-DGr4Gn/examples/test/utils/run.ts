/**
 * Runs an example in a child process, as `npm start` does, and watches its output.
 */
// @ts-nocheck

import { type ChildProcess, spawn } from "node:child_process"
import * as path from "node:path"

const examples = path.resolve(import.meta.dirname, "..", "..")
const tsx = path.resolve(examples, "..", "node_modules", ".bin", "tsx")

export interface Run {
  readonly child: ChildProcess
  readonly output: () => string
  readonly errors: () => string
  /** Resolves once the output contains `count` occurrences of `text`. */
  readonly waitFor: (text: string, count: number) => Promise<void>
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
}

/** Runs an example in a child process, as `npm start` does. */
export const run = (script: string, env: Record<string, string> = {}): Run => {
  const child = spawn(tsx, ["--tsconfig", "tsconfig.json", script], {
    cwd: examples,
    env: { ...process.env, WORKER_INTERVAL: "300 millis", ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  const waiters = new Set<() => void>()
  child.stdout!.on("data", (chunk) => {
    stdout += chunk
    for (const check of waiters) check()
  })
  child.stderr!.on("data", (chunk) => (stderr += chunk))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal }))
  )
  return {
    child,
    output: () => stdout,
    errors: () => stderr,
    exited,
    waitFor: (text, count) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (stdout.split(text).length - 1 >= count) {
            waiters.delete(check)
            resolve()
          }
        }
        waiters.add(check)
        check()
        void exited.then(() => {
          waiters.delete(check)
          reject(new Error(`the worker exited before printing "${text}" ${count} times:\n${stdout}\n${stderr}`))
        })
      })
  }
}

/** Stops the worker as Ctrl-C would and measures how long it takes to exit. */
export const interrupt = async (worker: Run) => {
  const started = Date.now()
  worker.child.kill("SIGINT")
  const exit = await worker.exited
  return { ...exit, elapsed: Date.now() - started }
}
