/**
 * The examples the core README shows inline are the tested files of this directory, word for word:
 * a user on npm reads the README, not the repository.
 */
// @ts-nocheck

import { assert, describe, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as path from "node:path"

const examples = path.resolve(import.meta.dirname, "..")
const readme = Fs.readFileSync(path.join(examples, "..", "packages", "core", "README.md"), "utf8")
const source = (file: string) => Fs.readFileSync(path.join(examples, file), "utf8")

describe("the core README", () => {
  it("lists every section in its contents", () => {
    const prose = readme.replace(/```[\s\S]*?```/g, "")
    const contents = prose.slice(
      prose.indexOf("## Contents\n"),
      prose.indexOf("\n## ", prose.indexOf("## Contents\n") + 1)
    )
    const sections = prose.split("\n").filter((line) => line.startsWith("## ") && line !== "## Contents")
    assert.isNotEmpty(sections)
    for (const section of sections) assert.include(contents, `(#${anchor(section.slice(3))})`, section)
  })

  it("gathers every option of TokenService.Options in its options table, with the module that documents it", () => {
    const options = readme.slice(
      readme.indexOf("\n## Options\n"),
      readme.indexOf("\n## ", readme.indexOf("\n## Options\n") + 1)
    )
    const service = Fs.readFileSync(path.join(examples, "..", "packages", "core", "src", "TokenService.ts"), "utf8")
    const extended = /export interface Options\s+extends([^{]+)\{/.exec(service)![1]
    const modules = ["TokenService", ...Array.from(extended.matchAll(/(\w+)\.Options/g), (match) => match[1])]
    assert.isAtLeast(modules.length, 6)
    for (const module of modules) {
      const source = Fs.readFileSync(path.join(examples, "..", "packages", "core", "src", `${module}.ts`), "utf8")
      const start = source.indexOf("export interface Options")
      assert.isAbove(start, 0, module)
      const body = source.slice(start, source.indexOf("\n}\n", start))
      const fields = Array.from(body.matchAll(/^ {2}readonly (\w+)\??:/gm), (match) => match[1])
      assert.isNotEmpty(fields, module)
      for (const field of fields) {
        const row = options.split("\n").find((line) => line.startsWith(`| \`${field}\` |`))
        assert.isDefined(row, `the options table lacks ${module}'s ${field}`)
        assert.isTrue(row!.trimEnd().endsWith(`| \`${module}\` |`), `${field} is documented in ${module}: ${row}`)
      }
    }
  })

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

const packages = Fs.readdirSync(path.join(examples, "..", "packages"))

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
const anchor = (heading: string) => heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-")

describe("the package READMEs, as npm shows them", () => {
  for (const name of packages) {
    it(`${name}: every link is an anchor of the README or an absolute URL, repository links into the repository`, () => {
      const directory = path.join(examples, "..", "packages", name)
      const text = Fs.readFileSync(path.join(directory, "README.md"), "utf8")
      const manifest = JSON.parse(Fs.readFileSync(path.join(directory, "package.json"), "utf8")) as {
        readonly repository?: { readonly url: string; readonly directory: string }
      }
      assert.isDefined(manifest.repository, "package.json names its repository")
      assert.strictEqual(manifest.repository!.directory, `packages/${name}`)
      const repository = manifest.repository!.url.replace(/^git\+/, "").replace(/\.git$/, "")
      const prose = text.replace(/```[\s\S]*?```/g, "")
      const headings = new Set(
        prose.split("\n").filter((line) => /^#+ /.test(line)).map((line) => anchor(line.replace(/^#+ /, "")))
      )
      // A path of the repository named in prose is a link to it: on npm there is no such file beside the README.
      const bare = Array.from(prose.matchAll(/(?<!\[)`((?:examples|test|bench|core\/test|platform\/test)\/[^`]*)`/g))
      assert.deepStrictEqual(bare.map((match) => match[1]), [], "repository paths without a link")
      const links = Array.from(prose.matchAll(/\]\(([^)\s]+)\)/g), (match) => match[1])
      assert.isNotEmpty(links)
      for (const link of links) {
        if (link.startsWith("#")) {
          assert.isTrue(headings.has(link.slice(1)), `${link} names no heading`)
        } else {
          assert.match(link, /^https:\/\//, `${link} is relative: it breaks on npm`)
          if (!link.startsWith(repository)) continue
          // A file of the repository: it must exist on the branch the link names.
          const file = /^\/(?:blob|tree|raw)\/main\/([^#]+)/.exec(link.slice(repository.length))?.[1]
          if (file !== undefined) assert.isTrue(Fs.existsSync(path.join(examples, "..", file)), `${link} names no file`)
        }
      }
    })
  }
})

describe("the versions the API reference names", () => {
  const compare = (a: string, b: string) => {
    const [x, y] = [a.split(".").map(Number), b.split(".").map(Number)]
    return x[0] - y[0] || x[1] - y[1] || x[2] - y[2]
  }
  for (const name of packages) {
    it(`${name}: no @since is later than the version the package ships as, and its own packages are required at it`, () => {
      const directory = path.join(examples, "..", "packages", name)
      const manifest = JSON.parse(Fs.readFileSync(path.join(directory, "package.json"), "utf8")) as {
        readonly version: string
        readonly peerDependencies?: Record<string, string>
        readonly devDependencies?: Record<string, string>
      }
      const sources = Fs.readdirSync(path.join(directory, "src"), { recursive: true, encoding: "utf8" })
        .filter((file) => file.endsWith(".ts"))
      for (const file of sources) {
        const text = Fs.readFileSync(path.join(directory, "src", file), "utf8")
        for (const [, since] of text.matchAll(/@since (\d+\.\d+\.\d+)/g)) {
          assert.isAtMost(compare(since, manifest.version), 0, `${file}: @since ${since} in ${manifest.version}`)
        }
      }
      for (const [dependency, range] of Object.entries({ ...manifest.peerDependencies, ...manifest.devDependencies })) {
        if (!dependency.startsWith("@access-token/")) continue
        const other = JSON.parse(
          Fs.readFileSync(path.join(examples, "..", "packages", dependency.slice(14), "package.json"), "utf8")
        ) as { readonly version: string }
        assert.strictEqual(range, `^${other.version}`, `${dependency} in ${name}`)
      }
    })
  }
})

describe("the API reference pages", () => {
  for (const name of packages) {
    it(`${name}: each page opens with front matter that GitHub reads as such, not as a heading`, () => {
      const modules = path.join(examples, "..", "packages", name, "docs", "modules")
      const pages = Fs.readdirSync(modules).filter((file) => file.endsWith(".md"))
      assert.isNotEmpty(pages)
      for (const page of pages) {
        const text = Fs.readFileSync(path.join(modules, page), "utf8")
        assert.match(text, /^---\ntitle: .+\n(?:[a-z_]+: .*\n)*---\n/, page)
      }
    })
  }
})

describe("the install lines of the READMEs", () => {
  const rootManifest = JSON.parse(Fs.readFileSync(path.join(examples, "..", "package.json"), "utf8")) as {
    readonly devDependencies: Record<string, string>
  }
  const readmes = ["README.md", ...packages.map((name) => path.join("packages", name, "README.md"))]
  for (const file of readmes) {
    it(`${file}: each names the peers of the packages it installs, in the ranges the packages accept`, () => {
      const text = Fs.readFileSync(path.join(examples, "..", file), "utf8")
      const lines = Array.from(text.matchAll(/npm install ([^\n`|(]+)/g), (match) => match[1].trim())
      assert.isNotEmpty(lines)
      for (const line of lines) {
        const words = line.split(/\s+/).filter((word) => !word.startsWith("-"))
        const named = new Map(words.map((word) => {
          const at = word.indexOf("@", 1)
          return at === -1 ? [word, undefined] as const : [word.slice(0, at), word.slice(at + 1)] as const
        }))
        for (const [name, range] of named) {
          if (name.startsWith("@access-token/")) {
            const manifest = JSON.parse(
              Fs.readFileSync(path.join(examples, "..", "packages", name.slice(14), "package.json"), "utf8")
            ) as { readonly peerDependencies?: Record<string, string> }
            for (const peer of Object.keys(manifest.peerDependencies ?? {})) {
              assert.isTrue(named.has(peer), `${line}: ${name} needs ${peer}`)
            }
          } else if (rootManifest.devDependencies[name] !== undefined) {
            assert.strictEqual(range, rootManifest.devDependencies[name], `${line}: ${name}`)
          }
        }
      }
    })
  }
})
