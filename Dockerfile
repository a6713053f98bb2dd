# InChart in two stages: a builder with the Rust toolchain, cargo-leptos,
# wasm-opt and Node for the chart bundle; a slim runtime with the binary
# and the built site only.

FROM rust:1.95-bookworm AS builder
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm \
 && rm -rf /var/lib/apt/lists/*
RUN rustup target add wasm32-unknown-unknown \
 && cargo install cargo-leptos@0.2.47 --locked \
 && cargo install wasm-opt@0.116.1 --locked
WORKDIR /src
COPY . .
RUN cd chart-bridge/js && npm ci --no-audit --no-fund && npm run build
RUN cargo leptos build --release \
 && mkdir -p /out \
 && cp target/release/inchart /out/inchart \
 && cp -r target/site /out/site

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /app inchart
WORKDIR /app
COPY --from=builder /out/inchart /usr/local/bin/inchart
COPY --from=builder /out/site /app/site
ENV LEPTOS_SITE_ROOT=/app/site \
    INCHART_LISTEN=0.0.0.0:3000 \
    INCHART_LOG_FORMAT=json
USER inchart
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s CMD curl -fsS http://127.0.0.1:3000/readyz || exit 1
ENTRYPOINT ["inchart"]
CMD ["serve"]
