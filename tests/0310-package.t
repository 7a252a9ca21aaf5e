#!/bin/bash
# The Debian package: make deb builds it in a copy of the tree (the tree stays as it
# was), lintian has no error or warning, apt-get installs it, the installed binary
# with the installed /etc/spot-deliver.conf checks its config, passes --selftest and
# delivers one message in filter mode, as the user of the state_dir; apt-get purge
# leaves nothing behind. Installs into this machine: root only, and never over a
# spot-deliver that was there before.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip_all "installs a package: needs root"
for c in dpkg-buildpackage dh lintian apt-get systemd-tmpfiles runuser; do
	command -v "$c" >/dev/null || skip_all "$c is missing (scripts/install-deps.sh deb)"
done
# Not ours to install over, nor to purge at exit: an administrator's spot-deliver.
# dpkg's status, empty when not installed (unknown, or "un"/"pn": n is not-installed;
# "rc" is conffiles left, which counts)
status() { dpkg-query -W -f='${db:Status-Abbrev}' spot-deliver 2>/dev/null | sed '/^.n/d'; }
[ -z "$(status)" ] || bail_out "spot-deliver is installed already (dpkg status '$(status)'): purge it first"
for f in /usr/bin/spot-deliver /etc/spot-deliver.conf /var/lib/spot-deliver /usr/share/doc/spot-deliver; do
	[ ! -e "$f" ] || bail_out "$f exists but belongs to no package: remove it first"
done
need_rspamd
plan 55

V=$(sed -n 's/^VERSION = //p' "$ROOT/Makefile")
DEB=$T/deb/spot-deliver_${V}_amd64.deb
CHANGES=$T/deb/spot-deliver_${V}_amd64.changes
DOC=/usr/share/doc/spot-deliver
export DEBIAN_FRONTEND=noninteractive
# the user Postfix's pipe(8) runs spot-deliver as (vmail in the README)
USER_=nobody
as_user() { runuser -u "$USER_" -- "$@"; }
# what make deb must not change: git's view, ignored files included, and every path,
# size and mtime of the tree (also where there is no git)
in_tree() {
	git -C "$ROOT" status --porcelain --ignored 2>&1
	find "$ROOT" -path "$ROOT/.git" -prune -o -printf '%p %s %T@\n' | sort
}

check_eq "debian/changelog has the Makefile's VERSION ($V)" \
	"$(dpkg-parsechangelog -l "$ROOT/debian/changelog" -SVersion)" "$V"

# ---- build
before=$(in_tree)
check "make deb DEB_O=... builds the package" \
	timeout 300 make -C "$ROOT" deb DEB_O="$T/deb"
cp "$out" "$T/build.log"
check_eq "make deb leaves the tree as it was (git status --ignored, find)" "$(in_tree)" "$before"
check "the .deb is spot-deliver_${V}_amd64.deb" test -f "$DEB"
check_grep "compiled with dpkg-buildflags' CPPFLAGS (fortify)" \
	'-D_FORTIFY_SOURCE=2 .* -c -o src/config\.o' "$T/build.log"
check_grep "compiled with SYSCONFDIR=/etc" "-DSYSCONFDIR='\"/etc\"'" "$T/build.log"
check_grep "the unit tests ran in the build" '^Result: PASS' "$T/build.log"

# ---- lintian: no error, no warning (info and pedantic tags are shown, not counted)
lintian --fail-on error,warning -I --pedantic "$CHANGES" >"$T/lintian" 2>&1
ok $? "lintian --fail-on error,warning on the .changes (.deb, .buildinfo, dbgsym)" ||
	diag_file "$T/lintian" 40
check_eq "lintian: no E: or W: line" "$([ -f "$CHANGES" ] || echo "no $CHANGES"; grep -E '^[EW]: ' "$T/lintian")" ""
! grep -q -v 'root privileges' "$T/lintian" || diag "lintian says:" "$(grep -v 'root privileges' "$T/lintian")"

# ---- install; from here on, purge at exit whatever happens (and say so when that
# fails: at_exit discards the output, fd 9 is the test's stderr)
exec 9>&2
purge() {
	dpkg-query -W spot-deliver >/dev/null 2>&1 || return 0
	timeout 300 apt-get purge -y -qq -o DPkg::Lock::Timeout=120 spot-deliver >"$T/purge.log" 2>&1 ||
		{ echo "# could not purge spot-deliver, do it by hand:" >&9; sed 's/^/#   /' "$T/purge.log" >&9; }
}
at_exit purge
check "apt-get install -y ./spot-deliver_${V}_amd64.deb" \
	timeout 300 apt-get install -y -qq -o DPkg::Lock::Timeout=120 "$DEB"
check_eq "dpkg -l: installed, version $V" \
	"$(dpkg-query -W -f='${db:Status-Abbrev} ${Version}' spot-deliver)" "ii  $V"
dpkg -L spot-deliver >"$T/files"
has() { grep -qx -- "$1" "$T/files" && test -f "$1"; }
check "dpkg -L: /usr/bin/spot-deliver, mode 755" test "$(has /usr/bin/spot-deliver && stat -c %a /usr/bin/spot-deliver)" = 755
check "dpkg -L: spot-deliver(1) is the one of doc/" \
	sh -c "zcat /usr/share/man/man1/spot-deliver.1.gz | cmp - '$ROOT/doc/spot-deliver.1'"
check "dpkg -L: spot-deliver.conf(5) is the one of doc/" \
	sh -c "zcat /usr/share/man/man5/spot-deliver.conf.5.gz | cmp - '$ROOT/doc/spot-deliver.conf.5'"
check "dpkg -L: /usr/share/man pages listed" \
	sh -c "grep -qx /usr/share/man/man1/spot-deliver.1.gz '$T/files' && grep -qx /usr/share/man/man5/spot-deliver.conf.5.gz '$T/files'"
check "dpkg -L: /etc/spot-deliver.conf, a conffile" \
	sh -c "grep -qx /etc/spot-deliver.conf '$T/files' && dpkg-query -W -f='\${Conffiles}' spot-deliver | grep -q '^ /etc/spot-deliver.conf '"
check "dpkg -L: no /etc/spot-deliver.conf.example" test ! -e /etc/spot-deliver.conf.example
check_cmp "the untouched example in $DOC/examples/" "$DOC/examples/spot-deliver.conf.example" \
	"$ROOT/doc/spot-deliver.conf.example"
# the conffile is the example with one key set (and its header line saying so)
diff "$ROOT/doc/spot-deliver.conf.example" /etc/spot-deliver.conf | grep '^[<>]' >"$T/conf.diff"
check_eq "/etc/spot-deliver.conf: the example with on_timeout = block" "$(grep -c '^[<>]' "$T/conf.diff"; grep '^[<>] [^#]' "$T/conf.diff")" \
	"4
> on_timeout = block"
docs_ok=0
for f in README.md VIOLATIONS.md "$ROOT"/docs/*.md; do
	b=$(basename "$f")
	src=$ROOT/$b
	[ -f "$src" ] || src=$ROOT/docs/$b
	got=$DOC/$b
	[ -f "$got" ] || got=$DOC/$b.gz
	if ! has "$got" || ! zcat -f "$got" | cmp -s - "$src"; then
		diag "missing or different: $DOC/$b"
		docs_ok=1
	fi
done
ok $docs_ok "dpkg -L: README.md, VIOLATIONS.md, docs/*.md in $DOC, as in the tree"
check "dpkg -L: $DOC/README.Debian" has $DOC/README.Debian
check_grep "copyright: DEP-5" '^Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/$' $DOC/copyright
check_grep "copyright: the ISC license of LICENSE" '^License: ISC$' $DOC/copyright
check_eq "copyright: LICENSE's text" \
	"$(sed -n '/^ Permission/,$p' $DOC/copyright | sed 's/^ //; s/^\.$//')" \
	"$(sed -n '/^Permission/,$p' "$ROOT/LICENSE")"
check_grep "tmpfiles.d: /var/lib/spot-deliver, owner and mode left alone" \
	'^d /var/lib/spot-deliver - - - -$' /usr/lib/tmpfiles.d/spot-deliver.conf

# ---- the binary: dynamic against the system libraries, hardened
readelf -d /usr/bin/spot-deliver >"$T/dynamic"
check_grep "linked against the system libgmime" 'NEEDED.*\[libgmime-3\.0\.so\.0\]' "$T/dynamic"
check_grep "... libcjson" 'NEEDED.*\[libcjson\.so\.1\]' "$T/dynamic"
check_grep "... libcurl" 'NEEDED.*\[libcurl\.so\.4\]' "$T/dynamic"
check_grep "relro and bind now (LDFLAGS), PIE" 'FLAGS_1.*NOW PIE' "$T/dynamic"
nm -D /usr/bin/spot-deliver >"$T/syms"
check_grep "fortified: __snprintf_chk (CPPFLAGS)" '__snprintf_chk' "$T/syms"
check_grep "reads /etc/spot-deliver.conf by default" 'config file \(default /etc/spot-deliver\.conf\)' \
	<(/usr/bin/spot-deliver --help 2>&1)

# ---- the installed config
check "spot-deliver --check-config with /etc/spot-deliver.conf" /usr/bin/spot-deliver --check-config
check_grep "... on_timeout = block" '^on_timeout = block$' "$out"
check_grep "... Rspamd on localhost" '^rspamd_url = http://127\.0\.0\.1:11333$' "$out"
check_grep "... the API off" '^api_url = $' "$out"
check_grep "... state_dir /var/lib/spot-deliver" '^state_dir = /var/lib/spot-deliver$' "$out"

# ---- the state_dir: the postinst's systemd-tmpfiles creates it root-owned; the
# administrator gives it to the delivering user (README.Debian's command), and a later
# systemd-tmpfiles run (a boot) keeps that
check_eq "apt-get install created /var/lib/spot-deliver root:root 755 (tmpfiles.d)" \
	"$(stat -c '%U:%G %a' /var/lib/spot-deliver 2>&1)" "root:root 755"
check_exit "root-owned, it is not used: --selftest fails on it (69)" 69 \
	as_user /usr/bin/spot-deliver --selftest -o rspamd_url="$RSPAMD_URL"
check_grep "... and prints the line that fixes it" \
	'install -d -o nobody -m 0755 /var/lib/spot-deliver' "$out"
check "install -d -o $USER_ -m 0755 /var/lib/spot-deliver" install -d -o "$USER_" -m 0755 /var/lib/spot-deliver
check "systemd-tmpfiles --create spot-deliver.conf (as at boot)" systemd-tmpfiles --create spot-deliver.conf
check_eq "... leaves the owner $USER_ and mode 755" \
	"$(stat -c '%U %a' /var/lib/spot-deliver)" "$USER_ 755"

# ---- selftest and one delivery, as that user, with the installed config
check_exit "spot-deliver --selftest against a private Rspamd: exit 0" 0 \
	as_user /usr/bin/spot-deliver --selftest -o rspamd_url="$RSPAMD_URL"
check_grep "... Rspamd answers" "^ok +rspamd $RSPAMD_URL" "$out"
check_grep "... state_dir usable" '^ok +state_dir /var/lib/spot-deliver: owner and mode right' "$out"
check_grep "... with on_timeout block from /etc/spot-deliver.conf" 'on_timeout block' "$out"
M=$ROOT/tests/fixtures/mail/ham.eml
before_n=$(as_user /usr/bin/spot-deliver --stats 2>&1 | sed -n 's/^spot_deliver_messages_total //p')
as_user /usr/bin/spot-deliver -o rspamd_url="$RSPAMD_URL" <"$M" >"$T/delivered" 2>"$err"
ok $? "filter mode: ham.eml through /usr/bin/spot-deliver, exit 0" || diag_file "$err"
"$PY" "$ROOT/tests/msgpart.py" body "$M" >"$T/body.in"
"$PY" "$ROOT/tests/msgpart.py" body "$T/delivered" >"$T/body.out"
check_cmp "... the body byte for byte" "$T/body.out" "$T/body.in"
"$PY" "$ROOT/tests/msgpart.py" head "$T/delivered" >"$T/head.out"
check_grep "... X-Spam-Scanner added" '^X-Spam-Scanner: rspamd' "$T/head.out"
check_grep "... X-Spam-Score from Rspamd, not the forged -100" '^X-Spam-Score: -?[0-9.]+ / [0-9.]+' "$T/head.out"
check_eq "... the forged X-Spam, X-Spam-Score, X-SPOT-* fields are gone" \
	"$([ -s "$T/head.out" ] || echo "no header block:"; grep -Eic '^(X-Spam: No|X-Spam-Score: -100|X-SPOT-)' "$T/head.out")" 0
after=$(as_user /usr/bin/spot-deliver --stats 2>&1 | sed -n 's/^spot_deliver_messages_total //p')
# Other runs of spot-deliver as root on this machine (another test suite) with the
# default state_dir write there too while it exists: their files, owned by root, keep
# the delivering user out. Not this package's doing, and never on a CI machine.
others=$(find /var/lib/spot-deliver -mindepth 1 ! -user "$USER_" 2>/dev/null | head -3)
if [ -n "$others" ]; then
	skip "counted in the state_dir" "written meanwhile by another run as root: $others"
else
	check "counted in the state_dir (--stats: $before_n, then $after)" test "${after:-0}" -gt "${before_n:-0}"
fi

# ---- purge: nothing left
check "apt-get purge -y spot-deliver" purge
check_eq "dpkg -l: gone" "$(status)" ""
left=
while read -r f; do
	case $f in /. | /etc | /usr | /usr/* | /var/*) ;; *) continue ;; esac
	if [ -d "$f" ]; then
		case $f in *spot-deliver*) [ ! -e "$f" ] || left="$left $f" ;; esac
	elif [ -e "$f" ] || [ -L "$f" ]; then
		left="$left $f"
	fi
done <"$T/files"
for f in /usr/bin/spot-deliver /etc/spot-deliver.conf /usr/share/man/man1/spot-deliver.1.gz \
	/usr/share/man/man5/spot-deliver.conf.5.gz $DOC /var/lib/spot-deliver; do
	[ ! -e "$f" ] || left="$left $f"
done
check_eq "nothing of the package is left (the state_dir included)" "$left" ""
