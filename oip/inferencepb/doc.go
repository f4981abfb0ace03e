// Package inferencepb is the generated Go code of the Open Inference
// Protocol's gRPC service, inference.GRPCInferenceService, from the
// project's own oip/inference.proto (messages, client and server
// interfaces). Do not edit inference*.pb.go: run scripts/gen-proto.sh,
// whose pinned generator versions the files' headers record.
package inferencepb
