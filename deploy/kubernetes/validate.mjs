// Validates rendered Kubernetes objects against the API schema (the npm kubernetes-models
// validators), so a broken manifest fails `make lint` rather than the cluster's apply.
// Reads a JSON array of objects on stdin: `kubectl kustomize` prints YAML, and no YAML parser is
// among the project's node packages, so render.py converts it with PyYAML first.
// Exit status 1, with each problem on stderr, if any object is invalid or of an unknown kind.
import { readFileSync } from "node:fs";

const objects = JSON.parse(readFileSync(0, "utf8"));
if (!Array.isArray(objects) || objects.length === 0) {
  console.error("validate.mjs: expected a non-empty JSON array of Kubernetes objects on stdin");
  process.exit(1);
}

// apps/v1 -> kubernetes-models/apps/v1/<Kind>; the core group's v1 -> kubernetes-models/v1/<Kind>.
async function modelFor(apiVersion, kind) {
  if (typeof apiVersion !== "string" || typeof kind !== "string" || !/^[A-Za-z0-9]+$/.test(kind)) {
    return null;
  }
  try {
    const module = await import(`kubernetes-models/${apiVersion}/${kind}`);
    return module[kind] ?? null;
  } catch {
    return null;
  }
}

let problems = 0;
for (const object of objects) {
  const name = `${object?.kind ?? "?"}/${object?.metadata?.name ?? "?"}`;
  const Model = await modelFor(object?.apiVersion, object?.kind);
  if (Model === null) {
    console.error(`${name}: no schema for apiVersion ${object?.apiVersion} kind ${object?.kind}`);
    problems += 1;
    continue;
  }
  try {
    new Model(object).validate();
  } catch (error) {
    const details = (error.errors ?? []).map((e) => `  ${e.instancePath || "/"} ${e.message}`).join("\n");
    console.error(`${name}: ${error.message}${details ? `\n${details}` : ""}`);
    problems += 1;
  }
}
if (problems) {
  console.error(`${problems} of ${objects.length} objects invalid`);
  process.exit(1);
}
console.log(`${objects.length} objects valid`);
