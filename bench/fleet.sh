# Sourced by bench/run.sh and bench/apply_curve.sh: the generated fleets they
# share. bench_fleet DIR N RESOURCES FLBENCH makes DIR a fleet of N tenants
# x RESOURCES resources with `flbench gen`, or keeps the one there when its
# params stamp matches (generating 100,000 tenants takes about 30 s).
bench_fleet() {
	want=$(printf 'format 1\ntenants %s\nresources %s\n' "$2" "$3")
	if [ -f "$1/params" ] && [ "$(cat "$1/params")" = "$want" ]; then
		echo "== fleet of $2 tenants x $3 resources: reusing $1"
		return 0
	fi
	echo "== fleet of $2 tenants x $3 resources: generating into $1"
	rm -rf "$1"
	"$4" gen --tenants "$2" --resources "$3" --out "$1"
}
