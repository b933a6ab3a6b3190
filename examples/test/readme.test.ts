/**
 * The examples the core README shows inline are the tested files of this directory, word for word:
 * a user on npm reads the README, not the repository.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as path from "node:path"

const examples = path.resolve(import.meta.dirname, "..")
const readme = Fs.readFileSync(path.join(examples, "..", "packages", "core", "README.md"), "utf8")
const source = (file: string) => Fs.readFileSync(path.join(examples, file), "utf8")

describe("the core README", () => {
  it("shows examples/production.ts as it is, from its imports on", () => {
    const code = source("production.ts")
    assert.include(readme, "```ts\n" + code.slice(code.indexOf("import ")) + "```\n")
  })

  it("shows the telemetry layer of examples/opentelemetry.ts as it is", () => {
    const code = source("opentelemetry.ts")
    const start = code.indexOf("/**\n * Traces and metrics to the OTLP endpoint")
    const end = code.indexOf("\n/**\n * An authenticated `HttpClient`")
    assert.isAbove(start, 0)
    assert.isAbove(end, start)
    assert.include(readme, code.slice(start, end).trimEnd() + "\n")
  })

  it("names the version of @effect/opentelemetry the examples are tested with", () => {
    const manifest = JSON.parse(source("package.json")) as { readonly devDependencies: Record<string, string> }
    const range = manifest.devDependencies["@effect/opentelemetry"]
    assert.include(readme, `@effect/opentelemetry@${range}`)
    for (const [name, version] of Object.entries(manifest.devDependencies)) {
      if (!name.startsWith("@opentelemetry/") || !readme.includes(`${name}@`)) continue
      assert.include(readme, `${name}@${version}`, name)
    }
  })
})
