// check.mjs — docs/openapi.yaml against the OpenAPI 3.1 schema, and the live service's answers
// against docs/openapi.yaml.
//
//   node check.mjs SPEC TRACE
//
// TRACE is the JSON-lines file the end-to-end tests write with KB_API_TRACE (tests/e2e/harness.py):
// one request and its answer per line, with the role of the token sent ("none", "unknown" or a
// role). Each exchange is checked against the description:
//   - the path must be one of its paths (or the answer is the documented 401/404 of unknown
//     paths), the method one of the path's (or 405 with Allow),
//   - no token or an unknown one on a secured operation is 401, a role outside the operation's
//     x-roles is 403,
//   - otherwise the status must be one the operation documents, the body must match the schema of
//     its media type, and headers marked required must be present and match their schemas.
// HEAD is checked as the GET it mirrors, without a body. Answers the HTTP layer makes itself (414
// or 431 with an HTML body, info.description rule) are accepted for any request.
// Prints "PASS name" / "FAIL name" lines (tests/run-all.sh counts them): one for the description
// itself, one per operation with how many exchanges exercised it, and one listing operations
// that no test exercised (they must be exercised, or the check proves nothing about them).
import { readFileSync } from "node:fs";
import { Validator } from "@seriousme/openapi-schema-validator";
import Ajv2020 from "ajv/dist/2020.js";
import YAML from "yaml";

const [specPath, tracePath] = process.argv.slice(2);
let failed = 0;
const pass = (name) => console.log(`PASS ${name}`);
const fail = (name, lines) => {
  failed++;
  console.log(`FAIL ${name}`);
  for (const l of lines.slice(0, 30)) console.log(`    ${l}`);
  if (lines.length > 30) console.log(`    ... ${lines.length - 30} more`);
};

// ---------------------------------------------------------------- the description itself
const text = readFileSync(specPath, "utf8");
const spec = YAML.parse(text, { maxAliasCount: -1 });
{
  const v = new Validator();
  const res = await v.validate(spec);
  if (res.valid) pass("openapi_description_is_valid_openapi_3_1");
  else fail("openapi_description_is_valid_openapi_3_1", res.errors.map((e) => JSON.stringify(e)));
}

// ---------------------------------------------------------------- schemas
// The description is added to Ajv whole, so that "#/components/..." references resolve; OpenAPI's
// own keywords around the schemas are not JSON Schema, hence strict: false.
const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
ajv.addSchema(spec, "openapi.json");
const pointer = (parts) => "openapi.json#/" + parts.map((p) => String(p).replace(/~/g, "~0").replace(/\//g, "~1")).join("/");
const compiled = new Map();
function validator(parts) {
  const ref = pointer(parts);
  if (!compiled.has(ref)) compiled.set(ref, ajv.compile({ $ref: ref }));
  return compiled.get(ref);
}
function resolve(obj) { // a Reference Object to what it names (one level is all the description uses)
  if (obj && obj.$ref) {
    let o = spec;
    for (const p of obj.$ref.replace(/^#\//, "").split("/")) o = o[p.replace(/~1/g, "/").replace(/~0/g, "~")];
    return { target: o, parts: obj.$ref.replace(/^#\//, "").split("/").map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~")) };
  }
  return { target: obj, parts: null };
}

// ---------------------------------------------------------------- paths
const METHODS = ["get", "put", "post", "delete", "patch", "head", "options"];
// A template parameter is one raw segment, as sent (a %2F inside an id stays in it), or the
// rest of the path when the parameter says x-matches-rest (GET /api/documents/{id}).
const rest = (p) => Object.values(spec.paths[p]).some((op) => (op.parameters || []).some((x) => x["x-matches-rest"]));
const templates = Object.keys(spec.paths).map((p) => ({
  path: p,
  re: new RegExp("^" + p.replace(/[.*+?^$()|[\]\\]/g, (c) => "\\" + c)
    .replace(/\{[^}]+\}$/, rest(p) ? ".*" : "{x}").replace(/\{[^}]+\}/g, "[^/]+") + "$"),
  concrete: !p.includes("{"),
  prefix: p.includes("{") ? p.slice(0, p.indexOf("{")) : null,
}));
function matchPath(path) {
  const concrete = templates.find((t) => t.concrete && t.path === path);
  if (concrete) return concrete.path;
  const t = templates.find((t) => !t.concrete && t.re.test(path));
  return t ? t.path : null;
}

// ---------------------------------------------------------------- one exchange
const isJson = (ct) => /^application\/json\b/.test(ct || "");
function checkError(rec) { // an error answer: JSON {"error": ...}
  if (!isJson(rec.headers["content-type"])) return [`error answer with Content-Type ${rec.headers["content-type"]}`];
  const v = validator(["components", "schemas", "Error"]);
  try {
    return v(JSON.parse(rec.body)) ? [] : v.errors.map((e) => `${e.instancePath} ${e.message}`);
  } catch (e) {
    return [`body is not JSON: ${e.message}`];
  }
}
function httpLayer(rec) { // 414/431 written by libmicrohttpd itself (info.description)
  return (rec.status === 414 || rec.status === 431) && /^text\/html/.test(rec.headers["content-type"] || "");
}

// Returns [operation key or null, list of problems].
function check(rec) {
  const path = rec.path.split("?")[0];
  const method = rec.method.toLowerCase();
  const api = path.startsWith("/api/");
  if (httpLayer(rec)) return [null, []];
  const www = validator(["components", "responses", "Unauthorized", "headers", "WWW-Authenticate", "schema"]);
  const want = (statuses, key) => {
    statuses = [].concat(statuses);
    const p = statuses.includes(rec.status) ? [] : [`expected ${statuses.join(" or ")}, got ${rec.status}: ${rec.body.slice(0, 200)}`];
    if (!p.length && method !== "head") p.push(...checkError(rec));
    if (!p.length && rec.status === 401 && !www(rec.headers["www-authenticate"] || ""))
      p.push(`401 with WWW-Authenticate ${rec.headers["www-authenticate"]}`);
    return [key, p];
  };
  // A token the harness does not know ("unknown": e.g. written into the tokens file by a test of
  // reloading) may be valid: its 401 must be well-formed, anything else is checked as usual.
  if (rec.role === "unknown" && rec.status === 401 && api) return want(401, "(401) unknown token");
  const anonymousNow = rec.role === "none";
  const tmpl = matchPath(path);
  if (!tmpl) {
    // Under a prefix the router hands to a handler (/api/gaps/, /api/help-requests/), the
    // route's role and method checks come before the handler's 404.
    const under = templates.some((t) => t.prefix && t.prefix.startsWith("/api/") && path.startsWith(t.prefix));
    return want(api && anonymousNow ? 401 : under ? [403, 404, 405] : 404, `(unknown path) ${api ? "/api/..." : "/..."}`);
  }
  const item = spec.paths[tmpl];
  const opMethod = method === "head" && !item.head ? "get" : method;
  const op = METHODS.includes(opMethod) ? item[opMethod] : undefined;
  const secured = !op || !Array.isArray(op.security) || op.security.length > 0;
  if (api && anonymousNow) return want(401, op ? `${opMethod.toUpperCase()} ${tmpl}` : `(405) ${tmpl}`);
  if (!op) {
    const allowed = METHODS.filter((m) => item[m]).map((m) => m.toUpperCase());
    const r = want(405, `(405) ${tmpl}`);
    const allow = (rec.headers["allow"] || "").split(/,\s*/);
    if (rec.status === 405 && !allowed.every((m) => allow.includes(m))) r[1].push(`Allow: ${rec.headers["allow"]}, the description has ${allowed}`);
    return r;
  }
  const key = `${opMethod.toUpperCase()} ${tmpl}`;
  if (secured && rec.role !== "unknown" && !(op["x-roles"] || []).includes(rec.role)) return want(403, key);
  const response = op.responses[String(rec.status)];
  if (!response) return [key, [`status ${rec.status} is not documented: ${rec.body.slice(0, 300)}`]];
  const { target: resp, parts } = resolve(response);
  const base = parts || ["paths", tmpl, opMethod, "responses", String(rec.status)];
  const problems = [];
  for (const [name, h] of Object.entries(resp.headers || {})) {
    const value = rec.headers[name.toLowerCase()];
    const header = resolve(h);
    if (value === undefined) {
      if (header.target.required) problems.push(`header ${name} missing`);
      continue;
    }
    const hv = validator([...(header.parts || [...base, "headers", name]), "schema"]);
    if (!hv(value)) problems.push(`header ${name}: ${value}: ${hv.errors.map((e) => e.message).join("; ")}`);
  }
  if (method === "head" || rec.status === 304) return [key, problems];
  const ct = (rec.headers["content-type"] || "").split(";")[0].trim();
  if (!resp.content) {
    if (rec.body.length) problems.push(`a body where none is documented: ${rec.body.slice(0, 100)}`);
    return [key, problems];
  }
  if (!resp.content[ct]) return [key, problems.concat([`Content-Type ${ct} is not documented (${Object.keys(resp.content)})`])];
  if (rec.body_truncated) return [key, problems];
  let body = rec.body;
  if (ct === "application/json") {
    try {
      body = JSON.parse(rec.body);
    } catch (e) {
      return [key, problems.concat([`body is not JSON: ${e.message}`])];
    }
  }
  const v = validator([...base, "content", ct, "schema"]);
  if (!v(body)) problems.push(...v.errors.map((e) => `body${e.instancePath} ${e.message}${e.params && e.params.additionalProperty ? ": " + e.params.additionalProperty : ""}${e.params && e.params.unevaluatedProperty ? ": " + e.params.unevaluatedProperty : ""}`));
  return [key, problems];
}

// ---------------------------------------------------------------- the trace
let records = [];
try {
  records = readFileSync(tracePath, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
} catch (e) {
  fail("openapi_trace", [`cannot read the trace ${tracePath}: ${e.message}`]);
}
const byOp = new Map();
for (const rec of records) {
  const [key, problems] = check(rec);
  const k = key || "(answered by the HTTP layer)";
  if (!byOp.has(k)) byOp.set(k, { n: 0, problems: [] });
  const e = byOp.get(k);
  e.n++;
  for (const p of problems) e.problems.push(`${rec.method} ${rec.path.slice(0, 120)} as ${rec.role} -> ${rec.status} (${rec.test}): ${p}`);
}
for (const [k, e] of [...byOp.entries()].sort()) {
  const name = `openapi: ${k} (${e.n} exchanges)`;
  if (e.problems.length) fail(name, e.problems);
  else pass(name);
}
// Every operation must be exercised by some test, or nothing here checks it.
const unexercised = [];
for (const [p, item] of Object.entries(spec.paths))
  for (const m of METHODS)
    if (item[m] && !byOp.has(`${m.toUpperCase()} ${p}`)) unexercised.push(`${m.toUpperCase()} ${p}`);
if (records.length && unexercised.length) fail("openapi_every_operation_exercised", unexercised.map((u) => `no exchange in the trace: ${u}`));
else if (records.length) pass(`openapi_every_operation_exercised (${records.length} exchanges)`);
process.exit(failed ? 1 : 0);
