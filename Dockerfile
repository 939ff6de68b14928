# Build: docker build -t hookfleet .   Run: docker run --rm hookfleet <migrate|producer|router|delivery|all|demo>
FROM rust:1-bookworm AS builder
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p hookfleet \
    && install -m 0755 target/release/hookfleet /usr/local/bin/hookfleet

FROM debian:bookworm-slim
# ca-certificates: webhook targets are called over HTTPS with the system's roots.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --no-create-home --home-dir /app hookfleet
COPY --from=builder /usr/local/bin/hookfleet /usr/local/bin/hookfleet
COPY migrations /app/migrations
WORKDIR /app
USER hookfleet
# 8080: the producer's HTTP API; 9464: /metrics, /healthz, /readyz of every role.
EXPOSE 8080 9464
ENTRYPOINT ["hookfleet"]
