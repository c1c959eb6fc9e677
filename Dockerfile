# The platform's one image: every process is `marketplace <subcommand>` (k8s/processes/*).
#   scripts/image.sh            builds it (where a Docker engine runs); --push pushes it
# Stage 1 builds the release binary with the Swift 6.3 toolchain; stage 2 is a slim Debian with
# only the C libraries the binary links (a test checks this list against `ldd`), run as 10001.

FROM swift:6.3-bookworm AS build
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      pkg-config librdkafka-dev libmongoc-dev libbson-dev libhiredis-dev libssl-dev python3-pip unzip \
 && rm -rf /var/lib/apt/lists/*
# librdkafka >= 2.2 at run time (Debian 12 has 2.0.2, which cannot talk to every broker we run on):
# the self-contained build inside the confluent-kafka wheel, as scripts/bootstrap.sh does locally.
RUN mkdir -p /rdkafka /tmp/ck && cd /tmp/ck \
 && pip3 download -q --break-system-packages --no-deps --only-binary=:all: "confluent-kafka==2.16.1" \
 && unzip -q ./*.whl 'confluent_kafka.libs/*' \
 && cp confluent_kafka.libs/librdkafka-*.so* /rdkafka/ \
 && ln -s "$(cd /rdkafka && ls librdkafka-*.so* | head -n1)" /rdkafka/librdkafka.so.1
WORKDIR /src
# Dependencies first, so a source change does not fetch them again.
COPY Package.swift ./
RUN swift package resolve
# Tests too: the manifest declares the test target (its folder must exist), never built here.
COPY Sources Sources
COPY Tests Tests
RUN swift build -c release --product marketplace --static-swift-stdlib \
 && mkdir -p /out \
 && cp "$(swift build -c release --show-bin-path)/marketplace" /out/ \
 && cp -R "$(swift build -c release --show-bin-path)"/*.resources /out/

FROM debian:bookworm-slim AS runtime
# runtime-packages: the libraries `ldd marketplace` names (DeploymentFilesTests checks the list).
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      ca-certificates libc6 libgcc-s1 libstdc++6 zlib1g libmongoc-1.0-0 libbson-1.0-0 libhiredis0.14 libssl3 tzdata \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /rdkafka/ /usr/local/lib/rdkafka/
ENV LD_LIBRARY_PATH=/usr/local/lib/rdkafka
RUN useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin marketplace
WORKDIR /app
COPY --from=build /out/ /app/
COPY topics /app/topics
USER 10001
EXPOSE 8080 8001
ENTRYPOINT ["/app/marketplace"]
CMD ["serve"]
