"""Interop harness (test code only): a stock Python grpcio client of Parley.

Verifies the gateway with the ordinary TLS host-name check (no target-name override),
learns StoreService from server reflection into a descriptor pool (the C++/upb protobuf
runtime checks map entries and proto3 optional), and calls every StoreService method with
messages built from those descriptors. Prints one JSON object per step.
"""
import argparse
import json
import sys

import grpc
from google.protobuf import descriptor_pool, message_factory
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

STORE = "parley.store.v1.StoreService"


def emit(**kw):
    print(json.dumps(kw), flush=True)


def channel(args):
    root = open(args.root, "rb").read()
    key = open(args.key, "rb").read() if args.key else None
    cert = open(args.cert, "rb").read() if args.cert else None
    return grpc.secure_channel(args.addr, grpc.ssl_channel_credentials(root, key, cert))


def health(ch):
    stub = health_pb2_grpc.HealthStub(ch)
    for service in ["", STORE, "grpc.health.v1.Health", "no.such.Service"]:
        try:
            res = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
            emit(step="health", service=service, code="OK", status=health_pb2.HealthCheckResponse.ServingStatus.Name(res.status))
        except grpc.RpcError as err:
            emit(step="health", service=service, code=err.code().name, message=err.details())


def reflect(ch):
    pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(ch))
    service = pool.FindServiceByName(STORE)
    header = pool.FindMessageTypeByName("parley.store.v1.PushHeader")
    annotations = header.fields_by_name["annotations"].message_type
    expected = header.fields_by_name["expected_size"]
    emit(
        step="reflect",
        file=service.file.name,
        dependencies=[d.name for d in service.file.dependencies],
        methods=[m.name for m in service.methods],
        mapEntry=annotations.name,
        mapEntryOption=annotations.GetOptions().map_entry,
        optionalHasPresence=expected.has_presence,
        realOneofs=[o.name for o in header.oneofs if not getattr(o, "_is_synthetic", False) and len(o.fields) > 1],
    )
    return pool, service


class Store:
    def __init__(self, ch, pool, service):
        self.ch = ch
        self.methods = {m.name: m for m in service.methods}

    def cls(self, method, side):
        m = self.methods[method]
        return message_factory.GetMessageClass(m.input_type if side == "in" else m.output_type)

    def callable(self, method):
        m = self.methods[method]
        path = f"/{STORE}/{method}"
        ser = lambda msg: msg.SerializeToString()
        de = self.cls(method, "out").FromString
        kind = {(False, False): "unary_unary", (True, False): "stream_unary", (False, True): "unary_stream"}[(m.client_streaming, m.server_streaming)]
        return getattr(self.ch, kind)(path, request_serializer=ser, response_deserializer=de)

    def req(self, method):
        return self.cls(method, "in")()


def _fill(msg, values):
    for k, v in values.items():
        if isinstance(v, dict) and k != "annotations":
            _fill(getattr(msg, k), v)
        elif k == "annotations":
            getattr(msg, k).update(v)
        else:
            setattr(msg, k, v)


def step(name, fn):
    try:
        result = fn()
        emit(step=name, code="OK", **(result or {}))
        return result
    except grpc.RpcError as err:
        emit(step=name, code=err.code().name, message=err.details())
        return None


def store_calls(ch, pool, service):
    s = Store(ch, pool, service)
    payload = b"hello from grpcio"
    Push = s.cls("Push", "in")

    def push():
        header = Push()
        _fill(header.header, {"namespace": "interop/python", "media_type": "text/plain", "annotations": {"peer": "grpcio"}, "expected_size": len(payload)})
        ref = s.callable("Push")(iter([header, Push(chunk=payload)]), timeout=30)
        return {"cid": ref.cid}

    pushed = step("Push", push) or {"cid": ""}
    cid = pushed["cid"]
    step("Lookup", lambda: {"records": len(s.callable("Lookup")(_lookup(s, cid), timeout=30).records)})
    step("Pull", lambda: {"bytes": len(b"".join(r.chunk for r in s.callable("Pull")(_with(s.req("Pull"), "ref", {"cid": cid}), timeout=30)))})
    step("List", lambda: {"records": len(s.callable("List")(_with(s.req("List"), None, {"namespace": "interop/python"}), timeout=30).records)})
    ref = step("PushReferrer", lambda: {"cid": s.callable("PushReferrer")(_with(s.req("PushReferrer"), None, {"record": {"cid": cid}, "referrer": {"type": "signature", "media_type": "text/plain", "data": b"sig"}}), timeout=30).cid}) or {"cid": ""}
    step("PullReferrer", lambda: {"referrers": len(list(s.callable("PullReferrer")(_with(s.req("PullReferrer"), None, {"record": {"cid": cid}}), timeout=30)))})
    step("DeleteReferrer", lambda: s.callable("DeleteReferrer")(_with(s.req("DeleteReferrer"), None, {"record": {"cid": cid}, "cid": ref["cid"]}), timeout=30) and {})
    step("Delete", lambda: s.callable("Delete")(_with(s.req("Delete"), "ref", {"cid": cid}), timeout=30) and {})


def _lookup(s, cid):
    msg = s.req("Lookup")
    msg.refs.add(cid=cid)
    return msg


def _with(msg, field, values):
    _fill(getattr(msg, field) if field else msg, values)
    return msg


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--addr", required=True)
    p.add_argument("--root", required=True)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--steps", default="health,reflect,store")
    args = p.parse_args()
    steps = args.steps.split(",")
    with channel(args) as ch:
        if "health" in steps:
            health(ch)
        pool = service = None
        if "reflect" in steps or "store" in steps:
            try:
                pool, service = reflect(ch)
            except Exception as err:  # the descriptor pool refuses bad descriptors with TypeError
                emit(step="reflect", code="ERROR", message=f"{type(err).__name__}: {err}")
                return 1
        if "store" in steps:
            store_calls(ch, pool, service)
    return 0


if __name__ == "__main__":
    sys.exit(main())
