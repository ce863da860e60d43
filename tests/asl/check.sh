#!/usr/bin/env bash
# Validates every statemachine/*.asl.json with asl-validator and statelint, as
# deployed: each ${Placeholder} (DefinitionSubstitutions) is replaced by a
# well-formed example ARN first, since statelint checks Resource URIs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin="$here/node_modules/.bin"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
for definition in "$root"/statemachine/*.asl.json; do
  name=$(basename "$definition")
  sed -E 's/\$\{([A-Za-z0-9]+)FunctionArn\}/arn:aws:lambda:us-east-1:123456789012:function:hlx-\1/g; s/\$\{([A-Za-z0-9]+)\}/example-\1/g' \
    "$definition" >"$tmp/$name"
  if grep -q '\${' "$tmp/$name"; then
    echo "FAIL $name: a placeholder was left unreplaced"; status=1; continue
  fi
  # statelint (1.30.0, its latest) predates the Distributed Map: it refuses
  # ItemReader, ItemBatcher, ResultWriter and the tolerated failures. It
  # checks a copy without them; asl-validator checks them in the file itself.
  node -e '
    const fs = require("fs");
    const known = (states) => Object.values(states).forEach((s) => {
      for (const f of ["ItemReader", "ItemBatcher", "ResultWriter", "ToleratedFailurePercentage",
        "ToleratedFailureCount", "ToleratedFailurePercentagePath", "ToleratedFailureCountPath", "Label"]) delete s[f];
      if (s.ItemProcessor) { delete s.ItemProcessor.ProcessorConfig; known(s.ItemProcessor.States); }
    });
    const d = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
    known(d.States);
    fs.writeFileSync(process.argv[2], JSON.stringify(d));
  ' "$tmp/$name" "$tmp/statelint-$name"
  if "$bin/asl-validator" --silent --json-path "$tmp/$name" && "$bin/statelint" "$tmp/statelint-$name"; then
    echo "ok   $name (asl-validator, statelint)"
  else
    echo "FAIL $name"; "$bin/asl-validator" --json-path "$tmp/$name" || true; status=1
  fi
done
exit $status
