package grpcproxy

import (
	"errors"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
)

// frame is one gRPC message kept as its wire bytes: the proxy never
// decodes a message in full.
type frame struct{ b []byte }

// rawCodec is the codec of the proxy's server and of its calls upstream:
// messages are *frame and stay bytes both ways. Its name is "proto", so
// the content type on the wire stays application/grpc(+proto).
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	f, ok := v.(*frame)
	if !ok {
		return nil, errors.New("grpcproxy: codec given a message that is not a frame")
	}
	return mem.BufferSlice{mem.SliceBuffer(f.b)}, nil
}

// Unmarshal copies the message out of gRPC's buffers, which are freed when
// it returns.
func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	f, ok := v.(*frame)
	if !ok {
		return errors.New("grpcproxy: codec given a message that is not a frame")
	}
	f.b = data.Materialize()
	return nil
}

func (rawCodec) Name() string { return "proto" }

// Field numbers routing reads. ModelInferRequest has model_name = 1 and
// model_version = 2; ModelReadyRequest and ModelMetadataRequest have
// name = 1 and version = 2: the same two fields for every routed method.
const (
	fieldModel   protowire.Number = 1
	fieldVersion protowire.Number = 2
)

var errMalformed = errors.New("malformed message")

// routingFields returns the model name and version of a routed request's
// wire bytes (aliasing b; empty when absent; the last occurrence wins, as
// proto3 decoding does), reading nothing else. A message that does not
// parse as protobuf wire format is errMalformed.
func routingFields(b []byte) (model, version []byte, err error) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, nil, errMalformed
		}
		b = b[n:]
		if (num == fieldModel || num == fieldVersion) && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return nil, nil, errMalformed
			}
			if num == fieldModel {
				model = v
			} else {
				version = v
			}
			b = b[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return nil, nil, errMalformed
		}
		b = b[m:]
	}
	return model, version, nil
}

// withVersion returns b with its version field (2) set to version, or
// removed when version is "": b itself when that changes nothing (no
// version field and version ""), else a new slice holding every other
// field of b unchanged and in order, then the version field. b must have
// passed routingFields.
func withVersion(b []byte, version string) []byte {
	_, had, _ := routingFields(b)
	if had == nil && version == "" {
		return b
	}
	out := make([]byte, 0, len(b)+len(version)+2)
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if num != fieldVersion {
			out = append(out, b[:n+m]...)
		}
		b = b[n+m:]
	}
	if version != "" {
		out = protowire.AppendTag(out, fieldVersion, protowire.BytesType)
		out = protowire.AppendString(out, version)
	}
	return out
}
