"""protoc output for gnostic-models OpenAPI v2 (infra/gnostic/generate.sh); see kubeapi.openapiv2."""
