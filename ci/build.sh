#!/usr/bin/env bash
# Configures and builds flotilla. Usage: ci/build.sh [plain|sanitize]
#   plain     build/      RelWithDebInfo, warnings are errors (the default)
#   sanitize  build-san/  Debug with AddressSanitizer and UBSan, warnings are errors
# Re-running reuses the build directory, so only what changed is rebuilt.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

mode=${1:-plain}
case $mode in
plain)
	dir=build
	flags=(-DFL_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo)
	;;
sanitize)
	dir=build-san
	flags=(-DFL_SANITIZE=ON -DFL_WERROR=ON -DCMAKE_BUILD_TYPE=Debug)
	;;
*)
	echo "usage: ci/build.sh [plain|sanitize]" >&2
	exit 2
	;;
esac

echo "==> cmake -S . -B $dir ${flags[*]}"
cmake -S . -B "$dir" "${flags[@]}"
echo "==> cmake --build $dir -j$(nproc)"
cmake --build "$dir" -j"$(nproc)"
