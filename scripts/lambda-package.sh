#!/usr/bin/env bash
# Fills the folders infra/template.yaml deploys (its CodeUri): each of
# infra/dist/{ingress,handler,egress}/ gets the function's binary as
# `bootstrap` and the config file as `clawhooks.json` (its transforms'
# `file`s inlined), which the functions read at init from their task root.
# `sam deploy` zips each folder itself, so no `sam build` is needed and the
# config never goes through a command line.
#
#   scripts/lambda-package.sh CONFIG.json BIN_DIR [DIST_DIR]
#
# BIN_DIR holds clawhooks-ingress, clawhooks-handler and clawhooks-egress:
# target/aarch64-unknown-linux-gnu/lambda-zip after scripts/lambda-build.sh
# (arm64, for AWS), or target/debug for an emulator that runs the functions
# as host processes (deploy with Architecture=x86_64). DIST_DIR (default
# infra/dist) is for a copy of the template elsewhere: the deploy test
# packages beside its own copy so it never overwrites yours.
set -euo pipefail
if [ $# -lt 2 ] || [ $# -gt 3 ]; then
  echo "usage: $0 CONFIG.json BIN_DIR [DIST_DIR]" >&2
  exit 2
fi
[ -f "$1" ] || { echo "config file not found: $1" >&2; exit 2; }
# Paths are the caller's; DIST_DIR's default is the repository's.
config=$(realpath "$1")
bins=$(realpath "$2")
dist=$(realpath -m "${3:-$(dirname "$0")/../infra/dist}")
# A transform's `file` is read relative to the config file, and only the
# config goes into the zip: the packaged copy carries each such script
# inline, as `code`. Anything else is copied as written.
inline_scripts() {
  python3 - "$1" "$2" <<'EOF'
import json, os, sys
src, dst = sys.argv[1:]
doc = json.load(open(src, encoding="utf-8"))
base = os.path.dirname(src)
hooks = doc.get("webhooks") if isinstance(doc, dict) else None
for kind in ("handlers", "outgoing"):
    items = hooks.get(kind) if isinstance(hooks, dict) else None
    for i, item in enumerate(items if isinstance(items, list) else []):
        t = item.get("transform") if isinstance(item, dict) else None
        if not (isinstance(t, dict) and isinstance(t.get("file"), str)) or "code" in t:
            continue
        path = os.path.join(base, t["file"])
        try:
            code = open(path, encoding="utf-8").read()
        except OSError as e:
            sys.exit(f"webhooks.{kind}[{i}].transform.file: cannot read {path}: {e.strerror}")
        del t["file"]
        t["code"] = code
with open(dst, "w", encoding="utf-8") as out:
    json.dump(doc, out, indent=2, ensure_ascii=False)
EOF
}

for f in ingress handler egress; do
  bin=$bins/clawhooks-$f
  [ -x "$bin" ] || { echo "no executable $bin (build it first)" >&2; exit 2; }
  dir=$dist/$f
  rm -rf "$dir"
  mkdir -p "$dir"
  cp "$bin" "$dir/bootstrap"
  inline_scripts "$config" "$dir/clawhooks.json"
  chmod 0755 "$dir/bootstrap"
  chmod 0644 "$dir/clawhooks.json"
done
echo "$dist/{ingress,handler,egress}: bootstrap from $bins, clawhooks.json from $config"
