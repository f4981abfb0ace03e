# syntax=docker/dockerfile:1
# Multi-stage build: a static modelgate binary (and the example model server)
# on a distroless, non-root base.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG REVISION=unknown
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION} -X main.revision=${REVISION}" \
      -o /out/modelgate ./cmd/modelgate && \
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/modelserver ./cmd/modelserver && \
    mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/modelgate /out/modelserver /usr/local/bin/
# The data directory (routing revisions, audit log): mount a volume here.
COPY --from=build --chown=nonroot:nonroot /out/data /var/lib/modelgate
ENV MODELGATE_DATA_DIR=/var/lib/modelgate
USER nonroot:nonroot
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/modelgate"]
CMD ["serve", "--config", "/etc/modelgate/modelgate.yaml"]
