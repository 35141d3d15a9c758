#!/usr/bin/env bash
# apply_proto_additions.sh PRISTINE_PROTO OUT_PROTO
# Writes BVLC's caffe.proto plus the project's additions from cpp_layers/proto/:
#   layer_parameter_fields.proto  lines inserted at the end of message LayerParameter
#   messages.proto                messages appended at the end of the file
# OUT_PROTO is rewritten only when its content changes, so make rebuilds only then.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
pristine=$1 out=$2
fields=$here/cpp_layers/proto/layer_parameter_fields.proto
messages=$here/cpp_layers/proto/messages.proto
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
awk -v fields="$fields" '
  /^message LayerParameter \{/ { inside = 1; depth = 0 }
  inside {
    opens = gsub(/\{/, "{"); closes = gsub(/\}/, "}")
    if (depth + opens - closes == 0 && closes > 0) {
      print "  // ---- Added by this project (cpp_layers/proto/layer_parameter_fields.proto) ----"
      while ((getline line < fields) > 0) print "  " line
      inside = 0
    }
    depth += opens - closes
  }
  { print }
' "$pristine" > "$tmp"
grep -q 'Added by this project' "$tmp" || { echo "apply_proto_additions: no 'message LayerParameter {' in $pristine" >&2; exit 1; }
if [ -f "$messages" ]; then
  { echo; echo "// ---- Added by this project (cpp_layers/proto/messages.proto) ----"; cat "$messages"; } >> "$tmp"
fi
cmp -s "$tmp" "$out" || cp "$tmp" "$out"
