// Validates the Kubernetes fixtures (*.json in the directories given) against the schemas of what
// they are or contain, recognised by shape, not by name, so regenerated fixtures need no change
// here:
//   apiVersion + kind            the object itself (Pod, Node, NodeList, ...), kubernetes-models
//   AdmissionReview              the envelope (lib/gotypes.mjs), request.object/oldObject/options
//                                by their own apiVersion/kind, and a response's JSONPatch applied
//                                to request.object
//   a key "Pod" (any case)       ExtenderArgs: the Pod, the NodeList (Nodes), NodeNames
//   other extender keys          ExtenderFilterResult (colo's filter answer)
//   [{Host, Score}]              HostPriorityList (colo's prioritize answer)
//   X.patch.json                 a JSONPatch: applied to X.json's request.object, the result validated
//   {type, object}               a meta/v1 WatchEvent: the type one of the five the API server
//                                sends, the object validated by its apiVersion/kind (an ERROR's
//                                is a Status); a BOOKMARK's object only names the resourceVersion
//                                (its other fields are Go's zero values, which no schema models)
// Fixtures named *-malformed-* are inputs no sender produces, kept to test refusal: not validated.
import { readdirSync, statSync } from "node:fs";
import { basename, join } from "node:path";

import jsonpatch from "fast-json-patch";

import { AdmissionReview, ExtenderArgs, ExtenderFilterResult, HostPriorityList, rebase, validateGo } from "./lib/gotypes.mjs";
import { loadJson, report } from "./lib/source.mjs";
import { pointer, validateObject } from "./lib/strict.mjs";

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const JSON_PATCH_OP = ["op", "path", "value", "from"];

// The object a JSON patch applies to, patched; problems of the patch itself.
function applyJsonPatch(target, patch, path) {
  if (!Array.isArray(patch)) return { problems: [{ path: pointer(path), message: "a JSONPatch must be an array" }] };
  const problems = [];
  patch.forEach((op, i) => {
    for (const k of Object.keys(op ?? {}))
      if (!JSON_PATCH_OP.includes(k)) problems.push({ path: pointer([...path, i, k]), message: `unknown field "${k}" of a JSONPatch operation` });
  });
  if (problems.length) return { problems };
  try {
    const doc = jsonpatch.applyPatch(structuredClone(target), patch, true, false).newDocument;
    return { doc, problems };
  } catch (e) {
    return { problems: [{ path: pointer([...path, e.index ?? 0]), message: `does not apply: ${e.message.split("\n")[0]}` }] };
  }
}

async function checkPatched(file, what, source, target, patch, patchPath) {
  const { doc, problems } = applyJsonPatch(target, patch, patchPath);
  if (problems.length) return report(file, what, source, problems);
  const r = await validateObject(doc);
  // Paths are those of the patched object: name the patch they come from.
  return report(file, `${what}, patched object`, null, r.problems);
}

const WATCH_EVENT_TYPES = ["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"];
const BOOKMARK_OBJECT_KEYS = ["kind", "apiVersion", "metadata", "spec", "status"];

// The problems of a WatchEvent (meta/v1 watch.go: {type, object}), with paths into the event.
async function watchEventProblems(d) {
  const problems = Object.keys(d).filter((k) => k !== "type" && k !== "object")
    .map((k) => ({ path: pointer([k]), message: `unknown field "${k}" of a WatchEvent` }));
  if (!WATCH_EVENT_TYPES.includes(d.type))
    problems.push({ path: "/type", message: `is ${JSON.stringify(d.type)}, not one of ${WATCH_EVENT_TYPES.join(", ")}` });
  const o = d.object;
  if (!isObject(o)) return [...problems, { path: "/object", message: "is not an object" }];
  if (d.type === "BOOKMARK") {
    for (const k of Object.keys(o))
      if (!BOOKMARK_OBJECT_KEYS.includes(k)) problems.push({ path: pointer(["object", k]), message: `unknown field "${k}" of a bookmark` });
    if (typeof o.kind !== "string" || typeof o.apiVersion !== "string")
      problems.push({ path: "/object", message: "a bookmark names the watched kind and apiVersion" });
    if (typeof o.metadata?.resourceVersion !== "string" || !o.metadata.resourceVersion)
      problems.push({ path: "/object/metadata/resourceVersion", message: "a bookmark carries a resourceVersion" });
    return problems;
  }
  if (d.type === "ERROR" && o.kind !== "Status")
    problems.push({ path: "/object/kind", message: `an ERROR event carries a Status, not ${JSON.stringify(o.kind)}` });
  const r = await validateObject(o);
  return [...problems, ...r.problems.map((p) => ({ ...p, path: p.path === "/" ? "/object" : "/object" + p.path }))];
}

// The problems of an AdmissionReview fixture, unprinted.
async function collect(file) {
  return validateGo(AdmissionReview, loadJson(file).data);
}

async function checkAdmissionReview(file, source) {
  const review = source.data;
  let failures = report(file, "AdmissionReview", source, await validateGo(AdmissionReview, review));
  const req = isObject(review.request) ? review.request : null;
  if (req && isObject(req.object) && isObject(req.kind)) {
    const gv = req.kind.group ? `${req.kind.group}/${req.kind.version}` : req.kind.version;
    if (req.object.apiVersion !== gv || req.object.kind !== req.kind.kind)
      failures += report(file, "AdmissionReview", source, [{ path: "/request/object", message:
        `is ${req.object.apiVersion} ${req.object.kind}, but request.kind says ${gv} ${req.kind.kind}` }]);
  }
  const resp = isObject(review.response) ? review.response : null;
  if (resp && typeof resp.patch === "string" && req && isObject(req.object)) {
    let patch;
    try {
      patch = JSON.parse(Buffer.from(resp.patch, "base64").toString("utf8"));
    } catch (e) {
      return failures + report(file, "AdmissionReview", source, [{ path: "/response/patch", message: `is not base64 of JSON: ${e.message}` }]);
    }
    failures += await checkPatched(file, "AdmissionReview response patch", source, req.object, patch, ["response", "patch"]);
  }
  return failures;
}

// Fixtures that are deliberately not what a sender writes although their name does not say
// malformed: each must fail the schema at exactly this place (a check that they stay invalid).
const KNOWN_INVALID = {
  "admission-reject-bad-quantity.json": {
    path: "/request/object/spec/containers/0/resources/requests/cpu",
    why: "the API server refuses a Pod with a malformed quantity before admission; kept for colo's own refusal",
  },
};

export async function checkFixture(file) {
  if (/-malformed-/.test(basename(file))) {
    console.log(`skip ${file}: deliberately malformed input, no sender's shape`);
    return 0;
  }
  const invalid = KNOWN_INVALID[basename(file)];
  if (invalid) {
    const problems = await collect(file);
    const at = problems.filter((p) => p.path === invalid.path);
    if (!at.length || at.length !== problems.length) {
      console.log(`FAIL ${file}: expected to fail at ${invalid.path} only (${invalid.why}); got ${JSON.stringify(problems)}`);
      return 1;
    }
    console.log(`ok   ${file}: invalid as expected at ${invalid.path}: ${at.map((p) => p.message).join("; ")} (${invalid.why})`);
    return 0;
  }
  let source;
  try {
    source = loadJson(file);
  } catch (e) {
    console.log(`FAIL ${e.message}`);
    return 1;
  }
  const d = source.data;
  if (file.endsWith(".patch.json")) {
    const baseFile = file.slice(0, -".patch.json".length) + ".json";
    let base;
    try {
      base = loadJson(baseFile).data;
    } catch (e) {
      console.log(`FAIL ${file}: a JSONPatch applies to ${baseFile}: ${e.message}`);
      return 1;
    }
    const target = base?.kind === "AdmissionReview" ? base.request?.object : base;
    return checkPatched(file, `JSONPatch on ${basename(baseFile)}`, source, target, d, []);
  }
  if (Array.isArray(d))
    return report(file, "HostPriorityList", source, await validateGo(HostPriorityList, d));
  if (!isObject(d)) {
    console.log(`FAIL ${file}: neither an object nor an array`);
    return 1;
  }
  if (d.kind === "AdmissionReview") return checkAdmissionReview(file, source);
  if ("apiVersion" in d || "kind" in d) {
    const r = await validateObject(d);
    return report(file, `${d.apiVersion} ${d.kind}`, source, r.problems);
  }
  if (Object.keys(d).length && Object.keys(d).every((k) => k === "type" || k === "object"))
    return report(file, `WatchEvent ${d.type}`, source, await watchEventProblems(d));
  const keys = Object.keys(d).map((k) => k.toLowerCase());
  if (keys.includes("pod")) return report(file, "ExtenderArgs", source, await validateGo(ExtenderArgs, d));
  if (keys.some((k) => ["failednodes", "failedandunresolvablenodes", "error"].includes(k)) ||
      keys.some((k) => ["nodes", "nodenames"].includes(k)))
    return report(file, "ExtenderFilterResult", source, await validateGo(ExtenderFilterResult, d));
  console.log(`FAIL ${file}: cannot tell what Kubernetes type this is (keys ${JSON.stringify(Object.keys(d))})`);
  return 1;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  let failures = 0, passed = 0;
  for (const dir of process.argv.slice(2)) {
    const files = statSync(dir).isDirectory() ?
      readdirSync(dir).filter((f) => f.endsWith(".json")).sort().map((f) => join(dir, f)) : [dir];
    for (const file of files) {
      const n = await checkFixture(file);
      failures += n ? 1 : 0;
      passed += n ? 0 : 1;
    }
  }
  if (passed + failures === 0) {
    console.log("FAIL no fixture found");
    failures++;
  }
  console.log(`${passed} passed, ${failures} failed`);
  process.exit(failures ? 1 : 0);
}
