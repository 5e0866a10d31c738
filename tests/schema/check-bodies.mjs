// Validates every request colo sends to the API server, as dump-k8s-bodies (colo's own builders)
// writes them, against the Kubernetes schemas:
//   PATCH nodes/<n>/status, nodes/<n>   a JSON merge patch of a Node: a partial Node (no field is
//                                       required) but strict on unknown fields; a /status patch
//                                       may only touch status and a patch of the node itself not
//                                       status, because the API server silently drops the rest
//   POST pods/<n>/eviction              a policy/v1 Eviction, for the pod the path names
//   POST namespaces/<ns>/events         a core/v1 Event in that namespace
//   GET  pods?<query>                   meta/v1 ListOptions, parameter by parameter (lib/query.mjs)
//   GET  nodes/<n>?<query>              meta/v1 GetOptions
//   the webhook's reply to each AdmissionReview fixture (admission-*.json, not -malformed-): an
//   AdmissionReview response for that request whose JSONPatch, applied to the request's pod, gives
//   a valid Pod
//   node check-bodies.mjs DUMP_PROGRAM FIXTURE_DIR | DIR
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import jsonpatch from "fast-json-patch";

import { AdmissionReview, validateGo } from "./lib/gotypes.mjs";
import { checkQuery } from "./lib/query.mjs";
import { report } from "./lib/source.mjs";
import { modelFor, validateObject, validateStrict } from "./lib/strict.mjs";

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

// Kinds of request by method and path; match[1..] are the path's names.
const ROUTES = [
  { method: "PATCH", re: /^\/api\/v1\/nodes\/([^/?]+)\/status$/, check: nodePatch(true) },
  { method: "PATCH", re: /^\/api\/v1\/nodes\/([^/?]+)$/, check: nodePatch(false) },
  { method: "POST", re: /^\/api\/v1\/namespaces\/([^/?]+)\/pods\/([^/?]+)\/eviction$/, check: eviction },
  { method: "POST", re: /^\/api\/v1\/namespaces\/([^/?]+)\/events$/, check: event },
  { method: "GET", re: /^\/api\/v1\/pods$/, check: (m, q) => checkQuery("list", q, "pods") },
  { method: "GET", re: /^\/api\/v1\/nodes\/([^/?]+)$/, check: (m, q) => checkQuery("get", q, "nodes") },
  { method: "REPLY", re: /^(\/.*)$/, check: webhookReply },
];

async function webhookReply(m, query, reply) {
  const request = JSON.parse(readFileSync(m[1], "utf8"));
  const problems = await validateGo(AdmissionReview, reply);
  if (reply?.apiVersion !== request.apiVersion || reply?.kind !== "AdmissionReview")
    problems.push({ path: "/", message: `must be an AdmissionReview of the request's apiVersion ${request.apiVersion}` });
  if ("request" in (reply ?? {})) problems.push({ path: "/request", message: "a reply carries the response only" });
  const resp = reply?.response;
  if (!isObject(resp)) return [...problems, { path: "/response", message: "missing" }];
  if (resp.uid !== request.request?.uid) problems.push({ path: "/response/uid", message: "must be the request's uid" });
  if (!resp.allowed && !isObject(resp.status))
    problems.push({ path: "/response/status", message: "a refusal must say why (metav1.Status)" });
  if (("patch" in resp) !== ("patchType" in resp))
    problems.push({ path: "/response/patchType", message: "patch and patchType go together" });
  if (typeof resp.patch === "string") {
    const patch = JSON.parse(Buffer.from(resp.patch, "base64").toString("utf8"));
    let pod;
    try {
      pod = jsonpatch.applyPatch(structuredClone(request.request.object), patch, true, false).newDocument;
    } catch (e) {
      return [...problems, { path: "/response/patch", message: `does not apply to the request's object: ${e.message.split("\n")[0]}` }];
    }
    const r = await validateObject(pod);
    problems.push(...r.problems.map((p) => ({ ...p, path: `/response/patch (patched object ${p.path})` })));
  }
  return problems;
}

function nodePatch(status) {
  return async (m, query, body) => {
    if (!isObject(body)) return [{ path: "/", message: "a merge patch of a Node must be an object" }];
    const Node = await modelFor("v1", "Node");
    const problems = validateStrict(Node, body, { partial: true });
    for (const k of Object.keys(body))
      if (status ? k !== "status" : k === "status")
        problems.push({ path: `/${k}`, message: status ?
          "a patch of nodes/<name>/status may change only status: the API server drops the rest" :
          "a patch of nodes/<name> cannot change status: the API server drops it (use nodes/<name>/status)" });
    return problems;
  };
}

async function eviction(m, query, body) {
  const { problems } = await validateObject(body);
  if (body?.apiVersion !== "policy/v1" || body?.kind !== "Eviction")
    problems.push({ path: "/", message: "must be a policy/v1 Eviction" });
  if (body?.metadata?.namespace !== decodeURIComponent(m[1]) || body?.metadata?.name !== decodeURIComponent(m[2]))
    problems.push({ path: "/metadata", message: `must name the pod of the path (${m[1]}/${m[2]})` });
  return problems;
}

async function event(m, query, body) {
  const { problems } = await validateObject(body);
  if (body?.apiVersion !== "v1" || body?.kind !== "Event") problems.push({ path: "/", message: "must be a core/v1 Event" });
  const ns = decodeURIComponent(m[1]);
  if (body?.metadata?.namespace !== ns) problems.push({ path: "/metadata/namespace", message: `must be ${ns}, the path's` });
  // The API server refuses an Event whose object is in another namespace.
  if (body?.involvedObject?.namespace !== ns)
    problems.push({ path: "/involvedObject/namespace", message: `must be ${ns}, the Event's namespace` });
  return problems;
}

export async function checkRequest(file, text) {
  const nl = text.indexOf("\n");
  const [method, target, ...extra] = (nl < 0 ? text : text.slice(0, nl)).trim().split(" ");
  if (!method || !target || extra.length) {
    console.log(`FAIL ${file}:1: not "METHOD PATH"`);
    return 1;
  }
  const q = target.indexOf("?");
  const path = q < 0 ? target : target.slice(0, q), query = q < 0 ? "" : target.slice(q + 1);
  const route = ROUTES.find((r) => r.method === method && r.re.test(path));
  if (!route) {
    console.log(`FAIL ${file}:1: ${method} ${path}: no check for this request: add one to check-bodies.mjs`);
    return 1;
  }
  const bodyText = nl < 0 ? "" : text.slice(nl + 1).trim();
  let body;
  if (method === "GET") {
    if (bodyText) {
      console.log(`FAIL ${file}: a GET has no body`);
      return 1;
    }
  } else {
    try {
      body = JSON.parse(bodyText);
    } catch (e) {
      console.log(`FAIL ${file}:2: the body is not JSON: ${e.message}`);
      return 1;
    }
  }
  if (method !== "GET" && query) {
    console.log(`FAIL ${file}:1: ${method} ${path} with a query, which this check does not know`);
    return 1;
  }
  const problems = await route.check(path.match(route.re), query, body);
  return report(file, `${method} ${path}${query ? "?" + query : ""}`, null, problems);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = process.argv[2];
  let dir = arg, made = null, expected = 10;
  if (!statSync(arg).isDirectory()) {
    const fixtureDir = process.argv[3];
    const reviews = readdirSync(fixtureDir).filter((f) => /^admission-.*\.json$/.test(f) && !/-malformed-|\.patch\.json$/.test(f))
      .sort().map((f) => join(fixtureDir, f));
    expected += reviews.length;
    made = dir = mkdtempSync(join(tmpdir(), "colo-k8s-bodies-"));
    execFileSync(arg, [dir, ...reviews], { stdio: "inherit" });
  }
  let failures = 0, passed = 0;
  try {
    for (const f of readdirSync(dir).sort()) {
      const n = await checkRequest(f, readFileSync(join(dir, f), "utf8"));
      failures += n ? 1 : 0;
      passed += n ? 0 : 1;
    }
  } finally {
    if (made) rmSync(made, { recursive: true, force: true });
  }
  // The dump writes 10 requests and a reply per review; fewer means something stopped being covered.
  if (passed + failures < expected) {
    console.log(`FAIL only ${passed + failures} requests dumped, ${expected} expected`);
    failures++;
  }
  console.log(`${passed} passed, ${failures} failed`);
  process.exit(failures ? 1 : 0);
}
