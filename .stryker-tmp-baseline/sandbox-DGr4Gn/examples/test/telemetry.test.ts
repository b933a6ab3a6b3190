// @ts-nocheck
import { assert, describe, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as path from "node:path"
import { readme, readTable, root, type Row, suggestRow } from "./utils/telemetryTable.js"

/** The packages whose spans and metrics reach a user's telemetry (the test kit's do not). */
const packages = ["core", "platform", "redis"]

const sources = packages.flatMap((name) => {
  const dir = path.join(root, "packages", name, "src")
  return Fs.readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".ts"))
    .map((file) => {
      const full = path.join(dir, file)
      return { file: path.relative(root, full), text: Fs.readFileSync(full, "utf8") }
    })
})

interface Emitted {
  readonly name: string
  readonly keys: Set<string>
  readonly where: Array<string>
}

/** The object literal starting at `open` (a `{`), braces balanced. */
const objectAt = (text: string, open: number): string => {
  let depth = 0
  for (let i = open; i < text.length; i++) {
    if (text[i] === "{") depth++
    else if (text[i] === "}" && --depth === 0) return text.slice(open, i + 1)
  }
  return text.slice(open)
}

const keysOf = (literal: string): Array<string> =>
  Array.from(literal.matchAll(/(?:"([^"]+)"|([A-Za-z_$][\w$]*))\s*:/g), (match) => match[1] ?? match[2])

const lineOf = (text: string, index: number) => text.slice(0, index).split("\n").length

/**
 * What the code emits, read from the sources: span names (`withSpan`, `useSpan`, `makeSpan`,
 * `Effect.fn`) with the attributes given where the span is made, attributes added by
 * `annotateCurrentSpan`, metric names, and metric labels (`MetricLabel.make`, `Metric.tagged`).
 */
const scan = () => {
  const spans = new Map<string, Emitted>()
  const metrics = new Map<string, Emitted>()
  const annotations = new Map<string, Array<string>>()
  const labels = new Map<string, Array<string>>()
  const add = (map: Map<string, Emitted>, name: string, where: string) => {
    const entry = map.get(name) ?? { name, keys: new Set<string>(), where: [] }
    entry.where.push(where)
    map.set(name, entry)
    return entry
  }
  for (const { file, text } of sources) {
    for (
      const match of text.matchAll(/(?:\b\w*[Ww]ithSpan\w*|\buseSpan|\bmakeSpan|Effect\.fn)\(\s*"([^"]+)"\s*(,\s*\{)?/g)
    ) {
      const span = add(spans, match[1], `${file}:${lineOf(text, match.index)}`)
      if (match[2] === undefined) continue
      const options = objectAt(text, match.index + match[0].length - 1)
      const attributes = /attributes\s*:\s*\{/.exec(options)
      if (attributes === null) continue
      for (const key of keysOf(objectAt(options, attributes.index + attributes[0].length - 1))) span.keys.add(key)
    }
    for (const match of text.matchAll(/annotateCurrentSpan\(\s*"([^"]+)"/g)) {
      annotations.set(match[1], [...(annotations.get(match[1]) ?? []), `${file}:${lineOf(text, match.index)}`])
    }
    for (const match of text.matchAll(/Metric\.(?:counter|gauge|histogram|summary|frequency|timer)\(\s*"([^"]+)"/g)) {
      add(metrics, match[1], `${file}:${lineOf(text, match.index)}`)
    }
    for (const match of text.matchAll(/(?:MetricLabel\.make|Metric\.tagged\([^,]+,)\(?\s*"([^"]+)"/g)) {
      labels.set(match[1], [...(labels.get(match[1]) ?? []), `${file}:${lineOf(text, match.index)}`])
    }
  }
  return { spans, metrics, annotations, labels }
}

const missing = (kind: "span" | "metric", emitted: Emitted, rows: ReadonlyArray<Row>): string | undefined => {
  const row = rows.find((row) => row.kind === kind && row.name === emitted.name)
  if (row === undefined) {
    return `${kind} "${emitted.name}" (${emitted.where.join(", ")}) has no row; add:\n  ${
      suggestRow(kind, emitted.name, emitted.keys)
    }`
  }
  const absent = Array.from(emitted.keys).filter((key) => !row.keys.has(key))
  return absent.length === 0 ?
    undefined :
    `${kind} "${emitted.name}" (row at ${readme}:${row.line}) does not list ${
      absent.map((key) => `\`${key}\``).join(", ")
    }, which ${emitted.where.join(", ")} sets`
}

describe("the spans and metrics table of the core README", () => {
  const rows = readTable()
  const code = scan()

  it("has a row for every span and metric in the code, with every attribute and label", () => {
    const problems = [
      ...Array.from(code.spans.values(), (span) => missing("span", span, rows)),
      ...Array.from(code.metrics.values(), (metric) => missing("metric", metric, rows)),
      ...Array.from(code.annotations, ([key, where]) =>
        rows.some((row) => row.kind === "span" && row.keys.has(key))
          ? undefined
          : `span attribute \`${key}\` (${where.join(", ")}) is in no span row of ${readme}`),
      ...Array.from(code.labels, ([key, where]) =>
        rows.some((row) => row.kind === "metric" && row.keys.has(key))
          ? undefined
          : `metric label \`${key}\` (${where.join(", ")}) is in no metric row of ${readme}`)
    ].filter((problem) => problem !== undefined)
    assert.deepStrictEqual(problems, [], `\n${problems.join("\n")}`)
  })

  it("lists nothing the code does not emit", () => {
    const stale = rows
      .filter((row) => !(row.kind === "span" ? code.spans : code.metrics).has(row.name))
      .map((row) => `${readme}:${row.line}: ${row.kind} "${row.name}" is not in the sources of ${packages.join(", ")}`)
    assert.deepStrictEqual(stale, [], `\n${stale.join("\n")}`)
    assert.isAbove(rows.length, 0)
  })
})
