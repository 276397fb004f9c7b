# The motivating hazard: the release binary is built into a cache mount, so the COPY below takes
# whatever /app/target held in the layer before the build (here: a local target/ from COPY . .).
FROM rust:1.79 AS builder
WORKDIR /app
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/app/target \
    cargo build --release

FROM debian:bookworm-slim
COPY --from=builder /app/target/release/rest /usr/local/bin/rest
CMD ["rest"]
