// Proves the checks fail where they must: each case in negative/ (a manifest *.yaml, a fixture
// *.fixture.json or a request *.request, as check-manifests, check-fixtures and check-bodies
// read them) has one misspelled or unknown field or parameter, and must be rejected with a message
// naming it. expected.json lists, per file, the text each FAIL line must contain; null marks a
// valid file (the base a JSONPatch case applies to), which must pass.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

import { checkRequest } from "./check-bodies.mjs";
import { checkFixture } from "./check-fixtures.mjs";
import { checkManifestFile } from "./check-manifests.mjs";

const dir = process.argv[2];
const expected = JSON.parse(readFileSync(join(dir, "expected.json"), "utf8"));

async function run(file) {
  const path = join(dir, file);
  if (file.endsWith(".yaml")) return (await checkManifestFile(path)).failures;
  if (file.endsWith(".json")) return checkFixture(path);
  if (file.endsWith(".request")) return checkRequest(file, readFileSync(path, "utf8"));
  throw new Error(`${file}: not a .yaml, .fixture.json or .request case`);
}

let passed = 0, failed = 0;
const files = readdirSync(dir).filter((f) => f !== "expected.json").sort();
for (const f of Object.keys(expected))
  if (!files.includes(f)) {
    console.log(`FAIL ${f}: listed in expected.json but missing`);
    failed++;
  }
for (const file of files) {
  const want = expected[file];
  if (want === undefined) {
    console.log(`FAIL ${file}: not listed in expected.json`);
    failed++;
    continue;
  }
  const lines = [];
  const log = console.log;
  console.log = (...a) => lines.push(a.join(" "));
  let n;
  try {
    n = await run(file);
  } finally {
    console.log = log;
  }
  const fails = lines.filter((l) => l.startsWith("FAIL"));
  if (want === null) {
    if (n === 0 && !fails.length) {
      console.log(`ok   ${file}: valid, accepted`);
      passed++;
    } else {
      console.log(`FAIL ${file}: a valid case was rejected:\n  ${fails.join("\n  ")}`);
      failed++;
    }
    continue;
  }
  const missing = want.filter((w) => !fails.some((l) => l.includes(w)));
  if (n > 0 && !missing.length) {
    console.log(`ok   ${file}: rejected as expected:\n  ${fails.join("\n  ")}`);
    passed++;
  } else {
    console.log(`FAIL ${file}: expected a rejection naming ${JSON.stringify(missing)}; the check printed:\n  ${lines.join("\n  ")}`);
    failed++;
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
