package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/emptypb"
)

const storePrefix = "/parley.store.v1.StoreService/"

// storeClient calls StoreService with dynamic messages built from the committed descriptor
// set, which protodesc.NewFiles must accept (map entries, proto3 optional, imports).
type storeClient struct {
	conn  *grpc.ClientConn
	msgs  map[string]protoreflect.MessageDescriptor
}

func newStoreClient(conn *grpc.ClientConn, descriptorSet string) (*storeClient, error) {
	raw, err := os.ReadFile(descriptorSet)
	if err != nil {
		return nil, err
	}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(raw, &set); err != nil {
		return nil, fmt.Errorf("descriptor set: %w", err)
	}
	files, err := protodesc.NewFiles(&set)
	if err != nil {
		return nil, fmt.Errorf("descriptor set rejected by protodesc: %w", err)
	}
	c := &storeClient{conn: conn, msgs: map[string]protoreflect.MessageDescriptor{}}
	for _, name := range []string{"PushRequest", "RecordRef", "LookupRequest", "LookupResponse", "PullRequest", "PullResponse"} {
		d, err := files.FindDescriptorByName(protoreflect.FullName("parley.store.v1." + name))
		if err != nil {
			return nil, err
		}
		c.msgs[name] = d.(protoreflect.MessageDescriptor)
	}
	return c, nil
}

func (c *storeClient) msg(name string) *dynamicpb.Message { return dynamicpb.NewMessage(c.msgs[name]) }

func set(m *dynamicpb.Message, field string, v protoreflect.Value) {
	m.Set(m.Descriptor().Fields().ByName(protoreflect.Name(field)), v)
}

func get(m protoreflect.Message, field string) protoreflect.Value {
	return m.Get(m.Descriptor().Fields().ByName(protoreflect.Name(field)))
}

func (c *storeClient) ref(cid string) *dynamicpb.Message {
	r := c.msg("RecordRef")
	set(r, "cid", protoreflect.ValueOfString(cid))
	return r
}

func (c *storeClient) push(ctx context.Context, payload []byte) (string, error) {
	stream, err := c.conn.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true}, storePrefix+"Push")
	if err != nil {
		return "", err
	}
	header := c.msg("PushRequest")
	hdr := dynamicpb.NewMessage(c.msgs["PushRequest"].Fields().ByName("header").Message())
	set(hdr, "namespace", protoreflect.ValueOfString("interop"))
	set(hdr, "media_type", protoreflect.ValueOfString("application/octet-stream"))
	set(hdr, "expected_size", protoreflect.ValueOfUint64(uint64(len(payload))))
	hdr.Mutable(hdr.Descriptor().Fields().ByName("annotations")).Map().Set(protoreflect.ValueOfString("peer").MapKey(), protoreflect.ValueOfString("go-spiffe"))
	set(header, "header", protoreflect.ValueOfMessage(hdr))
	if err := stream.SendMsg(header); err != nil {
		return "", recvErr(stream, err)
	}
	chunk := c.msg("PushRequest")
	set(chunk, "chunk", protoreflect.ValueOfBytes(payload))
	if err := stream.SendMsg(chunk); err != nil {
		return "", recvErr(stream, err)
	}
	if err := stream.CloseSend(); err != nil {
		return "", err
	}
	out := c.msg("RecordRef")
	if err := stream.RecvMsg(out); err != nil {
		return "", err
	}
	return get(out, "cid").String(), nil
}

// recvErr turns a failed send (io.EOF: the server ended the call) into the call's status.
func recvErr(stream grpc.ClientStream, err error) error {
	if errors.Is(err, io.EOF) {
		return stream.RecvMsg(&emptypb.Empty{})
	}
	return err
}

func (c *storeClient) lookup(ctx context.Context, cid string) (uint64, error) {
	req := c.msg("LookupRequest")
	req.Mutable(req.Descriptor().Fields().ByName("refs")).List().Append(protoreflect.ValueOfMessage(c.ref(cid)))
	res := c.msg("LookupResponse")
	if err := c.conn.Invoke(ctx, storePrefix+"Lookup", req, res); err != nil {
		return 0, err
	}
	records := get(res, "records").List()
	if records.Len() != 1 {
		return 0, fmt.Errorf("lookup: %d records", records.Len())
	}
	return get(records.Get(0).Message(), "size").Uint(), nil
}

func (c *storeClient) pull(ctx context.Context, cid string) ([]byte, error) {
	stream, err := c.conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, storePrefix+"Pull")
	if err != nil {
		return nil, err
	}
	req := c.msg("PullRequest")
	set(req, "ref", protoreflect.ValueOfMessage(c.ref(cid)))
	if err := stream.SendMsg(req); err != nil {
		return nil, err
	}
	if err := stream.CloseSend(); err != nil {
		return nil, err
	}
	var body []byte
	for i := 0; i < 1<<20; i++ {
		res := c.msg("PullResponse")
		if err := stream.RecvMsg(res); err != nil {
			if errors.Is(err, io.EOF) {
				return body, nil
			}
			return body, err
		}
		if chunk := get(res, "chunk"); res.Has(res.Descriptor().Fields().ByName("chunk")) {
			body = append(body, chunk.Bytes()...)
		}
	}
	return body, errors.New("pull: too many messages")
}
