#!/bin/sh
# Regenerates kubeapi/_gnostic/openapiv2/OpenAPIv2_pb2.py (+ .pyi): the Python message classes of
# gnostic's OpenAPI v2 protobuf schema, the messages kube-apiserver serves /openapi/v2 as
# (k8s.io/kube-openapi/pkg/handler ToProtoBinary -> gnostic-models openapiv2.ParseDocument).
#
# The .proto comes from the Go module github.com/google/gnostic-models at the version refkube's
# kube-openapi uses (infra/refkube/go.sum), fetched through the Go module proxy by `go mod
# download`, and is kept beside the generated code so that tests/kubeapi/test_openapiv2.py can
# check the committed code is what protoc makes of it. protoc is grpcio-tools' (a test
# dependency); the runtime needs only the `protobuf` package.
#
# Usage (from the repository root): infra/gnostic/generate.sh
set -eu
VERSION=v0.7.0
out=kubeapi/_gnostic
dir=$(cd /tmp && go mod download -json "github.com/google/gnostic-models@$VERSION" \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')
install -m 0644 "$dir/openapiv2/OpenAPIv2.proto" "$out/openapiv2/OpenAPIv2.proto"
.venv/bin/python -m grpc_tools.protoc -I "$out" --python_out="$out" --pyi_out="$out" openapiv2/OpenAPIv2.proto
echo "generated $out/openapiv2/OpenAPIv2_pb2.py from gnostic-models $VERSION"
