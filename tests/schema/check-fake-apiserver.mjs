// Checks that the fake API server (tests/integration/fake-apiserver.c) writes its documents in the
// real API server's shapes: dump-fake-apiserver starts it with a node and pods and writes what it
// answers; each document is
//   (a) validated as a fixture is (check-fixtures.mjs: strict kubernetes-models schemas), and
//   (b) compared by key path with the generated fixture of the same type (tests/fixtures/k8s, made
//       from Go mirrors of the upstream types): every key path of the fixture must be in the fake's
//       document and every key path of the fake's document in the fixture, with the same JSON
//       type (null where Go writes nil), except the OPTIONAL paths below. Values and list lengths
//       are not compared: list elements are merged under "[]", and the entries of maps (labels,
//       annotations, resource lists) are values, not paths; and
//   (c) free of values Go never writes there: an empty map or list of an omitempty field, a
//       quantity the API server would have canonicalised (the PATCH of "2000" reads back "2k");
//   and the nodes of the list each have their own uid, the watch events' resourceVersions rise.
//   node check-fake-apiserver.mjs DUMP_PROGRAM FIXTURE_DIR | DIR FIXTURE_DIR
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { checkFixture } from "./check-fixtures.mjs";

// Each document the dump writes, and the fixture (or a part of one) it must be shaped like.
const item0 = (d) => ({ kind: "Node", apiVersion: "v1", ...d.items[0] });
const DOCUMENTS = [
  { file: "pod-list.json", fixture: "pod-list.json" },
  { file: "pod.json", fixture: "pod-running.json" },
  { file: "node-list.json", fixture: "extender-nodes.json" },
  { file: "node.json", fixture: "extender-nodes.json", part: item0 },
  { file: "node-patched.json", fixture: "extender-nodes.json", part: item0 },
  { file: "watch-added.json", fixture: "watch-added.json" },
  { file: "watch-modified.json", fixture: "watch-modified.json" },
  { file: "watch-deleted.json", fixture: "watch-deleted.json" },
  { file: "watch-bookmark.json", fixture: "watch-bookmark.json" },
  { file: "watch-error.json", fixture: "watch-error-expired.json" },
  { file: "status-404-pod.json", fixture: "status-not-found.json" },
  { file: "status-404-node.json", fixture: "status-not-found.json" },
  { file: "status-409-uid.json", fixture: "status-conflict.json" },
  { file: "status-410-expired.json", fixture: "status-expired.json" },
  { file: "status-429-pdb.json", fixture: "status-too-many-requests.json" },
  // A Success Status (201 to an Eviction) has no generated fixture: validated only, as is
  { file: "status-201-evicted.json" },
  // Nor does a created Event (what the API server answers to colo's POST).
  { file: "event-created.json" },
];

// Key paths either side may lack, with the documented reason; a path inside a list's items or a
// watch event's object is looked up without its "items[]." or "object." prefix.
const OPTIONAL = {
  "metadata.remainingItemCount":
    "ListMeta: set only for a paginated list without a label or field selector; colo lists with spec.nodeName",
  "metadata.annotations":
    "ObjectMeta (omitempty): a BOOKMARK carries k8s.io/initial-events-end only at the end of the initial events",
  "spec.containers[].command": "a user-set Container field (the fake's pods run a command)",
  "spec.containers[].command[]": "as spec.containers[].command",
  "status.podIPs": "kubelet writes podIPs next to podIP (since 1.16); the generated fixtures leave it out",
  "status.podIPs[].ip": "as status.podIPs",
};
const optional = (p) => p.replace(/^(items\[\]\.|object\.)/, "") in OPTIONAL;

// Maps whose keys are data, not fields.
const MAPS = new Set(["labels", "annotations", "capacity", "allocatable", "limits", "requests", "nodeSelector"]);

const typeOf = (v) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);

// path -> set of JSON types, over the whole document.
function keyPaths(v, prefix = "", out = new Map(), isMap = false) {
  const add = (p, t) => out.set(p, (out.get(p) ?? new Set()).add(t));
  if (Array.isArray(v)) {
    for (const e of v) {
      if (e !== null && typeof e === "object") keyPaths(e, `${prefix}[]`, out);
      else add(`${prefix}[]`, typeOf(e));
    }
    return out;
  }
  if (v === null || typeof v !== "object" || isMap) return out;
  for (const [k, child] of Object.entries(v)) {
    const p = prefix ? `${prefix}.${k}` : k;
    add(p, typeOf(child));
    if (child !== null && typeof child === "object") keyPaths(child, p, out, MAPS.has(k));
  }
  return out;
}

// The differences of the fake's document from the fixture, as messages naming the path.
export function compareShapes(fake, fixture) {
  const a = keyPaths(fake), b = keyPaths(fixture), problems = [];
  for (const [p, types] of b) {
    if (!a.has(p)) {
      if (!optional(p)) problems.push(`${p}: missing (the fixture has it)`);
      continue;
    }
    const fakeTypes = [...a.get(p)].filter((t) => !types.has(t));
    if (fakeTypes.length)
      problems.push(`${p}: is ${fakeTypes.join("/")} where the fixture has ${[...types].join("/")}`);
  }
  for (const p of a.keys())
    if (!b.has(p) && !optional(p)) problems.push(`${p}: not in the fixture (no real API server writes it)`);
  return problems;
}

// resource.Quantity's canonical form (CanonicalizeBytes), written independently of the fake's C:
// binary SI kept for whole values of at least 1024 (the largest 1024^k that divides), else decimal
// with an exponent that is a multiple of 3 (a suffix n u m k M G T P E, or e<N> for exponent
// notation), below nano rounded up to it. null when s is no quantity.
export function canonicalQuantity(s) {
  const q = /^\+?([0-9]*)(?:\.([0-9]*))?(|[numkMGTPE]|[KMGTPE]i|[eE][-+]?[0-9]+)$/.exec(s);
  if (!q || !(q[1] + (q[2] ?? ""))) return null;
  const suffix = q[3], frac = q[2] ?? "";
  let m = BigInt(q[1] + frac || "0"), e = -frac.length, exponent = false;
  const bin = suffix.endsWith("i") ? "KMGTPE".indexOf(suffix[0]) + 1 : 0;
  if (/^[eE]/.test(suffix)) {
    e += Number(suffix.slice(1));
    exponent = true;
  } else if (suffix && !bin) e += 3 * ("num kMGTPE".indexOf(suffix) - 3);
  if (m === 0n) return "0";
  m *= 1024n ** BigInt(bin);
  if (bin) {
    const whole = e >= 0 ? m * 10n ** BigInt(e) : m % 10n ** BigInt(-e) === 0n ? m / 10n ** BigInt(-e) : null;
    if (whole !== null && whole >= 1024n) {
      let j = 0, v = whole;
      while (j < 6 && v % 1024n === 0n) [v, j] = [v / 1024n, j + 1];
      return `${v}${j ? "KMGTPE"[j - 1] + "i" : ""}`;
    }
  }
  while (m % 10n === 0n) [m, e] = [m / 10n, e + 1];
  while (e < -9) [m, e] = [m / 10n + (m % 10n ? 1n : 0n), e + 1];
  while (((e % 3) + 3) % 3 || (!exponent && e > 18)) [m, e] = [m * 10n, e - 1];
  return `${m}${e === 0 ? "" : exponent ? `e${e}` : "num kMGTPE"[e / 3 + 3]}`;
}

const RESOURCE_LISTS = new Set(["capacity", "allocatable", "limits", "requests"]);

// Values Go's encoding/json never writes: an empty map or list of an omitempty field, and a
// quantity the API server has not canonicalised.
export function valueProblems(v, path = "") {
  const problems = [];
  if (Array.isArray(v)) {
    if (!v.length) problems.push(`${path}: is [] where Go omits an empty list (omitempty)`);
    v.forEach((e, i) => problems.push(...valueProblems(e, `${path}[${i}]`)));
    return problems;
  }
  if (v === null || typeof v !== "object") return problems;
  for (const [k, child] of Object.entries(v)) {
    const p = path ? `${path}.${k}` : k;
    if (MAPS.has(k) && child && typeof child === "object" && !Object.keys(child).length)
      problems.push(`${p}: is {} where Go omits an empty map (omitempty)`);
    if (RESOURCE_LISTS.has(k) && child && typeof child === "object") {
      for (const [name, q] of Object.entries(child)) {
        const c = canonicalQuantity(q);
        if (c !== q) problems.push(`${p}.${name}: is ${JSON.stringify(q)}, the API server writes ${c === null ? "no such quantity" : JSON.stringify(c)}`);
      }
      continue;
    }
    problems.push(...valueProblems(child, p));
  }
  return problems;
}

// Known answers of canonicalQuantity, so a wrong expectation cannot hide a wrong fake.
const CANONICAL_CASES = {
  "2000": "2k", "1000000000": "1G", "268435456": "268435456", "16Gi": "16Gi", "1024Mi": "1Gi", "1536Mi": "1536Mi",
  "1.5Gi": "1536Mi", "0.5": "500m", "500m": "500m", "1500m": "1500m", "4": "4", "0": "0", "100k": "100k",
  "1e3": "1e3", "1000e3": "1e6", "512": "512", "0.5Ki": "512", "1Ki": "1Ki", "0.0000000001": "1n", "110": "110",
};

// Known answers of compareShapes and valueProblems: a comparison that cannot fail is no test.
const SHAPE_CASES = [
  { fake: { spec: { nodeName: "a" } }, fixture: { spec: { nodeName: "a", securityContext: {} } },
    want: ["spec.securityContext: missing (the fixture has it)"] },
  { fake: { spec: { nodeNmae: "a" } }, fixture: { spec: {} },
    want: ["spec.nodeNmae: not in the fixture (no real API server writes it)"] },
  { fake: { c: [{ lastProbeTime: "2024-05-01T12:00:00Z" }] }, fixture: { c: [{ lastProbeTime: null }] },
    want: ["c[].lastProbeTime: is string where the fixture has null"] },
  { fake: { metadata: { labels: { a: "b" } } }, fixture: { metadata: { labels: { c: "d" } } }, want: [] },
  { fake: { metadata: { annotations: {} } }, fixture: { metadata: {} },
    want: ["metadata.annotations: is {} where Go omits an empty map (omitempty)"] },
  { fake: { status: { capacity: { cpu: "4000m" } } }, fixture: { status: { capacity: { cpu: "4" } } },
    want: ['status.capacity.cpu: is "4000m", the API server writes "4"'] },
];

function selfTest() {
  const bad = Object.entries(CANONICAL_CASES).filter(([i, o]) => canonicalQuantity(i) !== o);
  for (const [i, o] of bad) console.log(`FAIL canonicalQuantity(${i}) is ${canonicalQuantity(i)}, not ${o}`);
  let failures = bad.length;
  for (const c of SHAPE_CASES) {
    const got = [...compareShapes(c.fake, c.fixture), ...valueProblems(c.fake)];
    if (JSON.stringify(got) !== JSON.stringify(c.want)) {
      console.log(`FAIL shape check of ${JSON.stringify(c.fake)} against ${JSON.stringify(c.fixture)}: ` +
        `${JSON.stringify(got)}, want ${JSON.stringify(c.want)}`);
      failures++;
    }
  }
  return failures;
}

function load(file) {
  return JSON.parse(readFileSync(file, "utf8"));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [arg, fixtures] = process.argv.slice(2);
  let dir = arg, made = null, dumpFailed = false;
  if (!statSync(arg).isDirectory()) {
    made = dir = mkdtempSync(join(tmpdir(), "colo-fake-apiserver-"));
    try {
      execFileSync(arg, [dir], { stdio: "inherit" });
    } catch {
      console.log(`FAIL ${arg} did not answer every request as expected (above); checking what it wrote`);
      dumpFailed = true;
    }
  }
  let failures = (dumpFailed ? 1 : 0) + selfTest(), passed = 0;
  for (const doc of DOCUMENTS) {
    const file = join(dir, doc.file);
    if (!existsSync(file)) {
      console.log(`FAIL ${doc.file}: not written by the fake`);
      failures++;
      continue;
    }
    let bad = (await checkFixture(file)) ? 1 : 0;
    if (doc.fixture) {
      const fixture = load(join(fixtures, doc.fixture));
      const problems = [...compareShapes(load(file), doc.part ? doc.part(fixture) : fixture), ...valueProblems(load(file))];
      for (const p of problems) console.log(`FAIL ${doc.file} vs ${doc.fixture}: ${p}`);
      if (!problems.length) console.log(`ok   ${doc.file}: same key paths as ${doc.fixture}`);
      bad = bad || problems.length ? 1 : 0;
    }
    failures += bad;
    passed += 1 - bad;
  }
  // Across documents: every object has its own uid (the API server makes one per object).
  const list = join(dir, "node-list.json");
  if (existsSync(list)) {
    const uids = load(list).items.map((n) => n.metadata?.uid);
    if (uids.length < 2 || new Set(uids).size !== uids.length) {
      console.log(`FAIL node-list.json: ${uids.length} nodes with uids ${JSON.stringify(uids)}: each object has its own`);
      failures++;
    } else console.log(`ok   node-list.json: ${uids.length} nodes, each with its own uid`);
  }
  // Every write moves resourceVersion on (etcd's revision): the watch's events come in rising order;
  // a bookmark carries the current one, which may be the last event's.
  const events = ["watch-added.json", "watch-modified.json", "watch-deleted.json", "watch-bookmark.json"];
  if (events.every((e) => existsSync(join(dir, e)))) {
    const rvs = events.map((e) => BigInt(load(join(dir, e)).object?.metadata?.resourceVersion ?? "0"));
    if (rvs.some((rv, i) => i > 0 && (i === rvs.length - 1 ? rv < rvs[i - 1] : rv <= rvs[i - 1]))) {
      console.log(`FAIL ${events.join(", ")}: resourceVersions ${rvs.join(", ")} do not rise`);
      failures++;
    } else console.log(`ok   watch events: resourceVersions rise (${rvs.join(", ")})`);
  }
  if (made) rmSync(made, { recursive: true, force: true });
  console.log(`${passed} passed, ${failures} failed`);
  process.exit(failures ? 1 : 0);
}
