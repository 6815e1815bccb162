# One image for every sendpath service. Build stage compiles with Debian's
# libraries; the run stage has only their runtime packages and runs as a
# non-root user. Pick the service with the command, e.g. sendpath-timers.
FROM debian:bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config librdkafka-dev libcjson-dev libhiredis-dev \
      libuv1-dev libmicrohttpd-dev libcurl4-openssl-dev libssl-dev libcmocka-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSP_WERROR=ON \
    && cmake --build /build -j"$(nproc)" \
    && install -d /out/bin \
    && install /build/services/*/sendpath-* /build/tools/cli/sendpath /out/bin/

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
      librdkafka1 libcjson1 libhiredis0.14 libuv1 libmicrohttpd12 libcurl4 \
      ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/sendpath sendpath \
    && install -d -o sendpath -g sendpath /var/lib/sendpath
COPY --from=build /out/bin/ /usr/local/bin/
COPY config/ /etc/sendpath/
COPY templates/ /usr/share/sendpath/templates/
USER sendpath
WORKDIR /var/lib/sendpath
ENV SENDPATH_CONFIG=/etc/sendpath/sendpath.conf \
    SENDPATH_VAR_DIR=/var/lib/sendpath \
    SENDPATH_HTTP_BIND=0.0.0.0 \
    SENDPATH_TIMERS_HOLIDAYS_FILE=/etc/sendpath/bank-holidays.json \
    SENDPATH_NOTIFY_TEMPLATES_DIR=/usr/share/sendpath/templates
CMD ["sendpath-intake"]
