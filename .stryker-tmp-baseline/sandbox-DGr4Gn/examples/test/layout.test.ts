/**
 * The layout issue 12 set: modules small enough to read whole, and a token service whose `make`
 * holds its concurrency core and nothing else. A file that outgrows the bound is split along a
 * seam (a concept of its own, or machinery for `internal/`), not squeezed.
 */
// @ts-nocheck

import { assert, describe, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as path from "node:path"
import { root } from "./utils/telemetryTable.js"

const maxLines = 400
const maxMakeLines = 160

const lineCount = (file: string) => Fs.readFileSync(file, "utf8").replace(/\n$/, "").split("\n").length

describe("the packages' layout", () => {
  it(`has no source file over ${maxLines} lines`, () => {
    const packages = path.join(root, "packages")
    const long = Fs.readdirSync(packages).flatMap((name) => {
      const src = path.join(packages, name, "src")
      if (!Fs.existsSync(src)) return []
      return Fs.readdirSync(src, { recursive: true, encoding: "utf8" })
        .filter((file) => file.endsWith(".ts"))
        .map((file) => path.join(src, file))
        .filter((file) => lineCount(file) > maxLines)
        .map((file) => `${path.relative(root, file)}: ${lineCount(file)} lines`)
    })
    assert.deepStrictEqual(long, [])
  })

  it(`keeps TokenService.make under ${maxMakeLines} lines`, () => {
    const text = Fs.readFileSync(path.join(root, "packages", "core", "src", "internal", "tokenService.ts"), "utf8")
    const lines = text.replace(/\n$/, "").split("\n")
    const start = lines.findIndex((line) => line.startsWith("export const make"))
    // `make` is the module's last declaration: it runs to the end of the file.
    assert.isAtLeast(start, 0)
    assert.isAtMost(lines.length - start, maxMakeLines)
  })
})
