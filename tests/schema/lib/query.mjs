// The query of a GET checked parameter by parameter against the options type the API server
// decodes it into. The OpenAPI document (so kubernetes-models) describes these only as per-path
// parameters, so they are written here from the upstream definitions:
//   k8s.io/apimachinery/pkg/apis/meta/v1/types.go   ListOptions, GetOptions (json tags = names)
//   k8s.io/apimachinery/pkg/apis/meta/internalversion/validation/validation.go   ValidateListOptions
//   k8s.io/apiserver/pkg/storage (continue with resourceVersion is refused)
//   pkg/registry/core/pod/strategy.go               PodToSelectableFields (the pod field selectors)
// The API server ignores a parameter it does not know, so a misspelled one would silently do
// nothing: here it fails.

const BOOL = /^(1|t|T|TRUE|true|True|0|f|F|FALSE|false|False)$/;        // strconv.ParseBool
const INT64 = /^[+-]?[0-9]+$/;

const LIST_OPTIONS = {
  labelSelector: "selector",
  fieldSelector: "fieldSelector",
  watch: "bool",
  allowWatchBookmarks: "bool",
  resourceVersion: "string",
  resourceVersionMatch: "resourceVersionMatch",
  timeoutSeconds: "int",
  limit: "int",
  continue: "string",
  sendInitialEvents: "bool",
};
const GET_OPTIONS = { resourceVersion: "string" };

const SELECTABLE_FIELDS = {
  pods: ["metadata.name", "metadata.namespace", "spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
    "spec.serviceAccountName", "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"],
};

const truthy = (v) => v !== undefined && /^(1|t|T|TRUE|true|True)$/.test(v);

function checkFieldSelector(value, resource) {
  const fields = SELECTABLE_FIELDS[resource] ?? ["metadata.name", "metadata.namespace"];
  const problems = [];
  for (const term of value.split(",")) {
    const m = /^([^=!]+)(==|=|!=)(.*)$/.exec(term);
    if (!m) problems.push(`"${term}" is not field=value, field==value or field!=value`);
    else if (!fields.includes(m[1])) problems.push(`"${m[1]}" is not a field selector of ${resource} (${fields.join(", ")})`);
  }
  return problems;
}

function checkValue(type, value, resource) {
  switch (type) {
    case "bool": return BOOL.test(value) ? [] : [`"${value}" is not a boolean`];
    case "int": return INT64.test(value) && BigInt(value) >= 0n ? [] : [`"${value}" is not a non-negative integer`];
    case "resourceVersionMatch": return ["Exact", "NotOlderThan"].includes(value) ? [] : [`"${value}" is not Exact or NotOlderThan`];
    case "fieldSelector": return checkFieldSelector(value, resource);
    default: return [];
  }
}

// kind "list" (ListOptions, also for watches) or "get" (GetOptions). Returns [{path, message}].
export function checkQuery(kind, query, resource) {
  const known = kind === "list" ? LIST_OPTIONS : GET_OPTIONS;
  const params = new URLSearchParams(query);
  const problems = [];
  const seen = new Map();
  for (const [name, value] of params) {
    const at = `?${name}`;
    if (!(name in known)) {
      problems.push({ path: at, message: `unknown parameter: ${kind === "list" ? "ListOptions" : "GetOptions"} has ${Object.keys(known).join(", ")}`, unknown: name });
      continue;
    }
    if (seen.has(name)) {
      problems.push({ path: at, message: "given twice (the API server reads the first only)" });
      continue;
    }
    seen.set(name, value);
    for (const m of checkValue(known[name], value, resource)) problems.push({ path: at, message: m });
  }
  if (kind !== "list") return problems;

  const watch = truthy(seen.get("watch"));
  const rv = seen.get("resourceVersion") ?? "", match = seen.get("resourceVersionMatch") ?? "";
  const fail = (name, message) => problems.push({ path: `?${name}`, message });
  if (watch) {
    if (match) fail("resourceVersionMatch", "is forbidden for a watch");
    if (truthy(seen.get("sendInitialEvents")) && match !== "NotOlderThan")
      fail("sendInitialEvents", "needs resourceVersionMatch=NotOlderThan");
    if (seen.has("continue")) fail("continue", "means nothing to a watch");
    if (seen.has("limit")) fail("limit", "means nothing to a watch");
  } else {
    if (match && !rv) fail("resourceVersionMatch", "is forbidden unless resourceVersion is given");
    if (match && seen.has("continue")) fail("resourceVersionMatch", "is forbidden with continue");
    if (match === "Exact" && rv === "0") fail("resourceVersionMatch", "Exact is forbidden for resourceVersion 0");
    if (truthy(seen.get("sendInitialEvents"))) fail("sendInitialEvents", "is forbidden for a list");
    if (seen.has("continue") && rv) fail("continue", "with resourceVersion is refused: the token carries the version");
    if (seen.has("allowWatchBookmarks")) fail("allowWatchBookmarks", "means nothing to a list (no watch=true)");
  }
  return problems;
}
