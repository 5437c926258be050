# syntax=docker/dockerfile:1
#
# retryd: one static binary (serve, work, migrate, seed, probe) on a distroless base.
#
#   docker build -t headshotpro/retryd .
#   docker run --rm headshotpro/retryd --help
#
# docker-compose.yml builds this image for the api, worker and migrate services.

ARG GO_VERSION=1.26

##### build #####
# Runs on the build machine's platform and cross-compiles for the target one, so a
# multi-platform build (buildx --platform linux/amd64,linux/arm64) needs no emulation.
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
ARG TARGETOS
ARG TARGETARCH
WORKDIR /src

# Modules first: this layer is rebuilt only when go.mod or go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download

COPY . .
# -buildvcs=false: .git is not in the build context (.dockerignore).
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -buildvcs=false -ldflags='-s -w' -o /out/retryd ./cmd/retryd

##### runtime #####
# Static distroless: CA certificates, tzdata and /etc/passwd, no shell and no package
# manager. Health checks therefore use the binary itself: `retryd probe URL`.
FROM gcr.io/distroless/static-debian12:nonroot AS runtime
COPY --from=build /out/retryd /retryd
USER nonroot:nonroot
# 8080: API (serve, HTTP_ADDR). 9464: serve's /metrics, /healthz and /debug/pprof
# (METRICS_ADDR); 9090: the worker's (WORKER_METRICS_ADDR). Both bind to the container's
# loopback unless set (docker-compose.yml sets 0.0.0.0 for its scraper); never publish them.
EXPOSE 8080 9090 9464
ENTRYPOINT ["/retryd"]
CMD ["serve"]
