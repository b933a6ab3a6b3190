// @ts-nocheck
import * as Fs from "node:fs"
import * as path from "node:path"

/** The repository's root. */
export const root = path.resolve(import.meta.dirname, "..", "..", "..")

/** Where the table lives. */
export const readme = path.join(root, "packages", "core", "README.md")

/** One row of the table of spans and metrics in the core README. */
export interface Row {
  readonly kind: "span" | "metric"
  readonly name: string
  /** The span's attributes or the metric's labels, as the row lists them. */
  readonly keys: ReadonlySet<string>
  readonly line: number
}

const heading = "## Spans and metrics"

const backticked = (cell: string): Array<string> => Array.from(cell.matchAll(/`([^`]+)`/g), (match) => match[1])

/**
 * The rows of the table under "## Spans and metrics": `| span | \`name\` | \`attribute\`, ... | when |`
 * or `| metric | ... |`. Only the third cell's backticked words count as attribute or label names.
 */
export const readTable = (): ReadonlyArray<Row> => {
  const lines = Fs.readFileSync(readme, "utf8").split("\n")
  const start = lines.findIndex((line) => line.trim() === heading)
  if (start === -1) throw new Error(`${readme} has no "${heading}" section`)
  const rows: Array<Row> = []
  for (let i = start + 1; i < lines.length && !lines[i].startsWith("## "); i++) {
    const cells = lines[i].split("|").slice(1, -1).map((cell) => cell.trim())
    if (cells[0] !== "span" && cells[0] !== "metric") continue
    const [name] = backticked(cells[1] ?? "")
    if (name === undefined) throw new Error(`${readme}:${i + 1}: the name must be in backticks`)
    rows.push({ kind: cells[0], name, keys: new Set(backticked(cells[2] ?? "")), line: i + 1 })
  }
  return rows
}

/** A row to paste into the table, for a failure message. */
export const suggestRow = (kind: "span" | "metric", name: string, keys: Iterable<string>): string =>
  `| ${kind} | \`${name}\` | ${Array.from(keys, (key) => `\`${key}\``).join(", ")} | (when it is emitted) |`
