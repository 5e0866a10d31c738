// Reading the documents to check, and naming the line a problem is on.
import { readFileSync } from "node:fs";
import { LineCounter, parseAllDocuments, parseDocument, isMap, isSeq } from "yaml";

// The node at a JSON pointer's path in a yaml Document, or the deepest one that exists.
function lineOf(doc, lineCounter, path) {
  let node = doc.contents, line = node?.range ? lineCounter.linePos(node.range[0]).line : 1;
  for (const key of path) {
    let next = null;
    if (isMap(node)) {
      const pair = node.items.find((p) => String(p.key?.value ?? p.key) === String(key));
      if (pair) {
        line = lineCounter.linePos((pair.key?.range ?? pair.value?.range)[0]).line;
        next = pair.value;
      }
    } else if (isSeq(node)) {
      next = node.items[Number(key)] ?? null;
      if (next?.range) line = lineCounter.linePos(next.range[0]).line;
    }
    if (!next) break;
    node = next;
  }
  return line;
}

// "/spec/containers/0" -> ["spec", "containers", "0"]
export function splitPointer(p) {
  return p === "/" || p === "" ? [] : p.slice(1).split("/").map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

// Every document of a YAML file: [{data, line(pointer)}]. Throws with file:line on a syntax error
// or a duplicate key (kubectl refuses those too).
export function loadYaml(file) {
  const text = readFileSync(file, "utf8");
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  if (!Array.isArray(docs)) throw new Error(`${file}: not YAML documents`);
  return docs.filter((d) => d.contents !== null).map((doc) => {
    if (doc.errors.length) {
      const e = doc.errors[0];
      throw new Error(`${file}:${lineCounter.linePos(e.pos[0]).line}: ${e.message}`);
    }
    return { data: doc.toJS({ maxAliasCount: 0 }), line: (ptr) => lineOf(doc, lineCounter, splitPointer(ptr)) };
  });
}

// A JSON file: {data, line(pointer)}. Values come from JSON.parse; the YAML parser (JSON is YAML)
// only finds lines.
export function loadJson(file) {
  const text = readFileSync(file, "utf8");
  let data;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: ${e.message}`);
  }
  let doc = null;
  const lineCounter = new LineCounter();
  return {
    data,
    line: (ptr) => {
      doc ??= parseDocument(text, { lineCounter, uniqueKeys: false });
      return lineOf(doc, lineCounter, splitPointer(ptr));
    },
  };
}

// Prints the problems found in one object; returns their count.
export function report(file, what, source, problems) {
  for (const p of problems)
    console.log(`FAIL ${file}:${source ? source.line(p.path) : 1}: ${what}: ${p.path}: ${p.message}`);
  if (!problems.length) console.log(`ok   ${file}: ${what}`);
  return problems.length;
}
