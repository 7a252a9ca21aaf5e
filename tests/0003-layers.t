#!/bin/bash
# The layers of docs/design.md hold: every #include "..." in cmd/ and src/ names a module of the
# same layer or one below, and every module is in the table. Also: decide.c and rewrite.c, the
# pure steps, compile without libcurl's declarations.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

plan 4

table=$(awk '/^## Layers/ { on = 1; next } /^## / { on = 0 } on && /^    [0-9] / {
	for (i = 3; i <= NF; i++) print $i, $1 }' "$ROOT/docs/design.md")
check_ne "docs/design.md has a table of layers" "$table" ""

# level MODULE: its layer, or nothing
level() { awk -v m="$1" '$1 == m { print $2 }' <<<"$table"; }

missing= upward=
for f in "$ROOT"/cmd/*.c "$ROOT"/src/*.[ch]; do
	m=$(basename "${f%.*}")
	lf=$(level "$m")
	if [ -z "$lf" ]; then
		missing="$missing $m"
		continue
	fi
	for h in $(sed -n 's/^#include "\([^"]*\)\.h".*/\1/p' "$f"); do
		lh=$(level "$h")
		if [ -z "$lh" ]; then
			missing="$missing $h"
		elif [ "$lh" -gt "$lf" ]; then
			upward="$upward ${f#"$ROOT"/}->$h.h"
		fi
	done
done
check_eq "every module of cmd/ and src/ is in the table" "$missing" ""
check_eq "no include runs upwards" "$upward" ""

# cc -E with the Makefile's flags: libcurl's names in what decide.c and rewrite.c see
curl=
for f in src/decide.c src/rewrite.c; do
	if ! make -s -C "$ROOT" cpp F="$f" >"$T/cpp.out" 2>"$err" ||
	    ! grep -q 'hdr_edit' "$T/cpp.out"; then
		curl="$curl $f:not-preprocessed"
		diag_file "$err"
	elif grep -q 'curl_' "$T/cpp.out"; then
		curl="$curl $f:$(grep -c 'curl_' "$T/cpp.out")"
	fi
done
check_eq "decide.c and rewrite.c see nothing of libcurl" "$curl" ""
