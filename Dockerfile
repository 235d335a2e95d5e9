# flotilla's container image. The build stage compiles it on Debian bookworm
# and makes the Debian package (cpack, as ci/package.sh does); the runtime
# stage installs that package on bookworm-slim, so apt pulls exactly the
# libraries its Depends name, with git and ca-certificates, and runs
# flotilla as a user that is not root. From the repository's top:
#   docker build -t flotilla .
#   docker run --rm -v "$PWD:/fleet" flotilla plan --repo /fleet
# The test suite does not build the image (no registry for the base images
# is reachable where it runs); tests/package/dockerfile.sh checks that its
# packages exist in bookworm and that the sources it copies configure
# (README, Install).

FROM debian:bookworm AS build
RUN apt-get update \
	&& apt-get install -y --no-install-recommends \
		build-essential cmake pkg-config file \
		libgit2-dev libcurl4-openssl-dev libssl-dev libyaml-dev libxxhash-dev libexpat1-dev \
	&& rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt LICENSE ./
COPY cmake cmake
COPY core core
COPY reconcile reconcile
COPY cmd cmd
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFL_TESTS=OFF \
	&& cmake --build build -j"$(nproc)" \
	&& cd build && cpack -G DEB && mkdir /deb && cp flotilla_*.deb /deb/

FROM debian:bookworm-slim
COPY --from=build /deb/ /tmp/deb/
RUN apt-get update \
	&& apt-get install -y --no-install-recommends /tmp/deb/flotilla_*.deb git ca-certificates \
	&& rm -rf /var/lib/apt/lists/* /tmp/deb \
	&& useradd --create-home --uid 10001 flotilla
USER flotilla
WORKDIR /home/flotilla
ENTRYPOINT ["flotilla"]
CMD ["--help"]
