# One image for every sendpath service (Debian bookworm, Debian's libraries).
#
#   docker build -t sendpath:dev .
#   docker run sendpath:dev sendpath-timers      # the command picks the service
#
# The build stage compiles with warnings as errors and runs the unit tests, so
# an image is never made from code whose unit tests fail. The run stage has
# only the runtime libraries, curl for health checks, and runs as the
# unprivileged user sendpath (uid 10001), which owns nothing but its state
# directory. Services handle SIGTERM themselves (drain, commit, exit 0), so
# they run as PID 1 without an init.
FROM debian:bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config librdkafka-dev libcjson-dev libhiredis-dev \
      libuv1-dev libmicrohttpd-dev libcurl4-openssl-dev libssl-dev libcmocka-dev libjemalloc-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSP_WERROR=ON \
    && cmake --build /build -j"$(nproc)" \
    && (cd /build && ctest --output-on-failure -L unit) \
    && install -d /out/bin \
    && install /build/services/*/sendpath-* /build/tools/cli/sendpath /out/bin/

FROM debian:bookworm-slim
ARG VERSION=dev
LABEL org.opencontainers.image.title="sendpath" \
      org.opencontainers.image.description="Statutory clocks and notifications for England's SEND (EHC plan) pathway" \
      org.opencontainers.image.version="${VERSION}"
RUN apt-get update && apt-get install -y --no-install-recommends \
      librdkafka1 libcjson1 libhiredis0.14 libuv1 libmicrohttpd12 libcurl4 libssl3 libjemalloc2 \
      ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/sendpath \
         --shell /usr/sbin/nologin sendpath \
    && install -d -m 0750 -o sendpath -g sendpath /var/lib/sendpath
COPY --from=build /out/bin/ /usr/local/bin/
COPY config/ /etc/sendpath/
COPY templates/ /usr/share/sendpath/templates/
USER 10001:10001
WORKDIR /var/lib/sendpath
# The checked-in sendpath.conf is for a laptop; these point it at the image's
# own paths. Kafka and Redis come from the environment or a mounted
# /etc/sendpath/sendpath.conf (the Helm chart's ConfigMap).
ENV SENDPATH_CONFIG=/etc/sendpath/sendpath.conf \
    SENDPATH_VAR_DIR=/var/lib/sendpath \
    SENDPATH_HTTP_BIND=0.0.0.0 \
    SENDPATH_TIMERS_HOLIDAYS_FILE=/etc/sendpath/bank-holidays.json \
    SENDPATH_NOTIFY_TEMPLATES_DIR=/usr/share/sendpath/templates
EXPOSE 8101 8102 8103 8104 8105
CMD ["sendpath-intake"]
