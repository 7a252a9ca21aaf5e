#!/bin/bash
# make install / uninstall with PREFIX and DESTDIR; SYSCONFDIR is where the binary
# reads its config; the man pages lint clean, and spot-deliver(1) stays short.
. "$(dirname "$0")/lib.sh"
command -v mandoc >/dev/null || skip_all "mandoc is not installed"
plan 16

D=$T/dest
check "make install PREFIX=/usr/local DESTDIR=..." make -s -C "$ROOT" install PREFIX=/usr/local DESTDIR="$D"
check "the binary is installed and runs" "$D/usr/local/bin/spot-deliver" --version
check_grep "... and says its version" '^spot-deliver [0-9]+\.[0-9]+' "$out"
check "spot-deliver(1) installed" test -f "$D/usr/local/share/man/man1/spot-deliver.1"
check "spot-deliver.conf(5) installed" test -f "$D/usr/local/share/man/man5/spot-deliver.conf.5"
check "the example config installed" test -f "$D/etc/spot-deliver.conf.example"
check "the example config is accepted by --check-config" "$D/usr/local/bin/spot-deliver" \
	-c "$D/etc/spot-deliver.conf.example" --check-config
# mandoc -W warning: no warning or error (style notes about the other page are not warnings)
check_eq "mandoc -T lint -W warning: clean" \
	"$(mandoc -T lint -W warning "$ROOT/doc/spot-deliver.1" "$ROOT/doc/spot-deliver.conf.5" 2>&1 | grep -v mandoc.db)" ""
check_eq "groff -ww -z: no warning" \
	"$(groff -ww -z -mandoc "$ROOT/doc/spot-deliver.1" "$ROOT/doc/spot-deliver.conf.5" 2>&1)" ""
# the size of its peers (pipe(8) is about 500 lines, rspamc(1) 190): details go to
# spot-deliver.conf(5) and docs/
lines=$(mandoc -T utf8 -O width=80 "$ROOT/doc/spot-deliver.1" | wc -l)
check "spot-deliver(1) is at most 350 lines at 80 columns ($lines)" test "$lines" -le 350
check "make uninstall" make -s -C "$ROOT" uninstall PREFIX=/usr/local DESTDIR="$D"
check_eq "nothing left but directories" "$(find "$D" -type f | wc -l)" 0

# SYSCONFDIR is compiled in, and a change of it rebuilds (a build of its own in O=)
D2=$T/dest2
check "make install SYSCONFDIR=/opt/spot/etc O=... (a build of its own)" make -s -j2 -C "$ROOT" \
	O="$T/build" install PREFIX=/opt/spot SYSCONFDIR=/opt/spot/etc DESTDIR="$D2"
check_grep "... the binary reads /opt/spot/etc/spot-deliver.conf" \
	'config file \(default /opt/spot/etc/spot-deliver\.conf\)' <("$D2/opt/spot/bin/spot-deliver" --help 2>&1)
check "... the example config in SYSCONFDIR" test -f "$D2/opt/spot/etc/spot-deliver.conf.example"
make -s -j2 -C "$ROOT" O="$T/build" SYSCONFDIR=/srv/etc >/dev/null 2>&1
check_grep "the same O= with another SYSCONFDIR rebuilds" 'config file \(default /srv/etc/spot-deliver\.conf\)' \
	<("$T/build/spot-deliver" --help 2>&1)
