#!/usr/bin/env bash
# Installs the Debian packages flotilla needs to build and test, and only
# those that are missing. Safe to run again: with everything present it
# changes nothing and runs no apt-get at all.
set -euo pipefail

packages=(
	build-essential
	cmake
	pkg-config
	git
	libgit2-dev
	libcurl4-openssl-dev
	libssl-dev
	libyaml-dev
	libxxhash-dev
	libexpat1-dev
	zlib1g-dev
	libcmocka-dev
	python3
	python3-h2
	python3-yaml
	# tests/e2e/sigv4_botocore.sh and the AWS stand-in: the reference SigV4 signer
	# and service models; tests/e2e/aws_standin_cli.sh: the real AWS CLI.
	python3-botocore
	awscli
	openssh-server
	openssh-client
	openssl
	# https remotes check servers against it; tests/core/test_git_init.c needs
	# the file libgit2 parses at its start, which flotilla puts off.
	ca-certificates
	curl
	procps
	# ci/fuzz.sh: clang, and libFuzzer's runtime (libclang_rt.fuzzer), which
	# bookworm ships in libclang-rt-14-dev; python3-yaml makes the seeds.
	clang
	libclang-rt-14-dev
	# tests/e2e/manpage.sh renders and lints the man page; completion.sh loads
	# the zsh completion.
	groff-base
	mandoc
	zsh
	# ci/package.sh: cpack's dependency scan (dpkg-shlibdeps comes with
	# build-essential's dpkg-dev) and the clean Debian root of its tests.
	file
	debootstrap
)

installed() {
	local status
	status=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) || return 1
	[[ $status == "install ok installed" ]]
}

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
	echo "ci/setup.sh: this script needs a Debian-like system (dpkg-query, apt-get);" >&2
	echo "ci/setup.sh: install these by hand: ${packages[*]}" >&2
	exit 1
fi

missing=()
for p in "${packages[@]}"; do
	installed "$p" || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
	echo "==> setup: all ${#packages[@]} packages already installed"
	exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
	if command -v sudo >/dev/null 2>&1; then
		sudo=(sudo)
	else
		echo "ci/setup.sh: not root and no sudo; install these by hand: ${missing[*]}" >&2
		exit 1
	fi
fi

export DEBIAN_FRONTEND=noninteractive
echo "==> setup: installing ${missing[*]}"
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "==> setup: done"
