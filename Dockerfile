# InChart in three stages: the stylesheet (Tailwind CSS from npm); a
# builder with the Rust toolchain, cargo-leptos, wasm-opt and Node for the
# chart bundle; a slim runtime with the binary and the built site only.

# Tailwind CSS v4 needs Node.js 20 or newer (bookworm's is 18): its own
# stage. It reads style/ and the class names in app/src, and writes
# target/style/inchart.css, cargo-leptos's style-file.
FROM node:22-bookworm-slim AS style
WORKDIR /src/style
COPY style/package.json style/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY style/ ./
COPY app/src /src/app/src
RUN npm run build

FROM rust:1.95-bookworm AS builder
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm python3-dev python3-pip \
 && rm -rf /var/lib/apt/lists/*
RUN rustup target add wasm32-unknown-unknown \
 && cargo install cargo-leptos@0.2.47 --locked \
 && cargo install wasm-opt@0.116.1 --locked
WORKDIR /src
COPY . .
COPY --from=style /src/target/style target/style
RUN cd chart-bridge/js && npm ci --no-audit --no-fund && npm run build
# The script worker embeds Debian's CPython 3.11; numpy goes in a folder
# of its own, the only Python packages a script can import.
ENV PYO3_PYTHON=/usr/bin/python3
RUN cargo leptos build --release \
 && cargo build --release --locked -p inchart-worker \
 && mkdir -p /out \
 && cp target/release/inchart target/release/inchart-worker /out/ \
 && cp -r target/site /out/site \
 && python3 -m pip install --break-system-packages --only-binary=:all: --target /out/python-site numpy==2.4.6

# Two users of their own: the server (uid 10000) and the signal scripts'
# sandbox (uid 10001, docker-compose.yml passes it as
# INCHART_SCRIPT_SANDBOX_UID), so a script never shares the server's uid.
# tzdata: the zone files scripts' `zoneinfo` reads; libcap2-bin: setcap.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl libpython3.11 tzdata libcap2-bin \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10000 inchart \
 && useradd --uid 10000 --gid inchart --home-dir /app --no-create-home --shell /usr/sbin/nologin inchart \
 && groupadd --gid 10001 inchart-sandbox \
 && useradd --uid 10001 --gid inchart-sandbox --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin inchart-sandbox
WORKDIR /app
COPY --from=builder /out/inchart /out/inchart-worker /usr/local/bin/
# The server runs without capabilities; the worker it starts gets these
# four (within the container's bounding set, docker-compose.yml: cap_add)
# to build its sandbox, and gives them all up before Python starts. Why
# each: worker/README.md, "In a container".
RUN setcap cap_sys_admin,cap_setuid,cap_setgid,cap_setpcap=ep /usr/local/bin/inchart-worker
COPY --from=builder /out/site /app/site
COPY --from=builder /out/python-site /app/python-site
ENV LEPTOS_SITE_ROOT=/app/site \
    INCHART_WORKER_SITE=/app/python-site \
    INCHART_LISTEN=0.0.0.0:3000 \
    INCHART_LOG_FORMAT=json
USER 10000:10000
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s CMD curl -fsS http://127.0.0.1:3000/readyz || exit 1
ENTRYPOINT ["inchart"]
CMD ["serve"]
