#!/bin/sh
# Installs the Debian 12 packages spot-deliver needs to build, test and demo.
# Usage: scripts/install-deps.sh [build|test]   (default: test, which is a superset)
#        scripts/install-deps.sh demo|bench|deb   (bench: what make bench needs;
#                                                 deb: what make deb needs)
set -eu
what=${1:-test}
build="build-essential pkg-config libgmime-3.0-dev libcurl4-openssl-dev libcjson-dev libssl-dev"
runtime="rspamd python3 dovecot-core"
# make deb, and tests/0310-package.t (which also runs systemd-tmpfiles)
deb="debhelper dpkg-dev lintian"
test="$runtime $deb systemd clang valgrind strace curl mandoc groff-base openssl swaks postfix dovecot-imapd dovecot-pop3d dovecot-sieve procmail fetchmail libclang-rt-14-dev"
case $what in
build) pkgs="$build" ;;
demo) pkgs="$build $runtime" ;;
test) pkgs="$build $test" ;;
deb) pkgs="$build $deb" ;;
bench) pkgs="$build rspamd python3 valgrind hyperfine time curl openssl" ;;
*) echo "usage: $0 [build|demo|test|bench|deb]" >&2; exit 64 ;;
esac
export DEBIAN_FRONTEND=noninteractive
# Postfix asks for a mailer type; "No configuration" installs it without a main.cf
# and without starting a system instance: the tests run their own.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -qq
# policy-rc.d keeps the packages' own services (rspamd, dovecot) from starting:
# the tests and the demo start private instances on their own ports.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
