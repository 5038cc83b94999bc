// Synthetic ExtenderArgs bodies for the benchmarks: realistic Node objects (labels, annotations
// with the colo node-metrics document, conditions, images: ~9 KB each, as a kubelet reports)
// and NodeNames requests. Header-only so the load generator needs no extender code.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <string>

namespace colo::bench {

inline std::string nodeName(int i) { return fmt::format("node-{:05d}", i); }

// The node-metrics annotation value, JSON-escaped for embedding in a JSON string (Go escapes
// quotes as \" and would escape <, >, & as \u003c...).
inline std::string metricsAnnotationEscaped(int i, int64_t ts_ms) {  // NOLINT
  int64_t used = 2000 + (i * 7919) % 12000;
  return fmt::format(
      R"({{\"v\":1,\"ts\":{},\"win\":60,\"cpu\":{{\"cap\":16000,\"used\":{},\"avg\":{},\"peak\":{},\"req\":{}}},)"
      R"(\"mem\":{{\"cap\":68719476736,\"used\":{},\"avg\":{},\"peak\":{}}},)"
      R"(\"ls\":{{\"runq_p99_us\":{},\"guard\":{}}},\"be\":{{\"cpu\":{},\"mem\":{},\"ot_cpu\":{}}},)"
      R"(\"wm\":{{\"cpu\":85,\"mem\":90}}}})",
      ts_ms, used, used - 300, used + 900, 6000 + (i * 131) % 8000,
      (20ll << 30) + (int64_t(i) * 104729 % 30) * (1ll << 30), 20ll << 30, 24ll << 30,
      100 + i % 400, i % 50 == 0 ? "true" : "false", 14000 - used > 0 ? 14000 - used : 0, 8ll << 30,
      4000);
}

inline std::string nodeJson(int i, int64_t ts_ms) {
  std::string images;
  for (int k = 0; k < 24; ++k) {
    images += fmt::format(
        R"({}{{"names":["registry.example.com/team-{}/service-{}@sha256:{:064x}","registry.example.com/team-{}/service-{}:v1.{}.{}"],"sizeBytes":{}}})",
        k == 0 ? "" : ",", k % 7, k, uint64_t(i) * 2654435761u + k, k % 7, k, k, i % 10,
        100000000 + k * 1234567);
  }
  std::string conditions;
  const char* types[] = {"MemoryPressure", "DiskPressure", "PIDPressure", "Ready",
                         "NetworkUnavailable"};
  for (int k = 0; k < 5; ++k) {
    conditions += fmt::format(
        R"({}{{"type":"{}","status":"{}","lastHeartbeatTime":"2026-11-22T11:00:00Z","lastTransitionTime":"2026-11-01T08:00:00Z","reason":"Kubelet{}","message":"kubelet has sufficient resources \u003c ok \u003e \u0026 is posting ready status"}})",
        k == 0 ? "" : ",", types[k], k == 3 ? "True" : "False", types[k]);
  }
  return fmt::format(
      R"({{"metadata":{{"name":"{0}","uid":"6a1e{1:08x}-0000-4000-8000-000000000000","resourceVersion":"{2}","creationTimestamp":"2026-11-01T08:00:00Z",)"
      R"("labels":{{"beta.kubernetes.io/arch":"amd64","beta.kubernetes.io/os":"linux","kubernetes.io/arch":"amd64","kubernetes.io/hostname":"{0}","kubernetes.io/os":"linux","node.kubernetes.io/instance-type":"m6i.4xlarge","topology.kubernetes.io/region":"eu-west-1","topology.kubernetes.io/zone":"eu-west-1{3}"{4}}},)"
      R"("annotations":{{"node.alpha.kubernetes.io/ttl":"0","volumes.kubernetes.io/controller-managed-attach-detach":"true","colo.io/node-metrics":"{5}"}}}},)"
      R"("spec":{{"podCIDR":"10.{6}.{7}.0/24","podCIDRs":["10.{6}.{7}.0/24"],"providerID":"aws:///eu-west-1a/i-0{1:016x}"}},)"
      R"("status":{{"capacity":{{"cpu":"16","ephemeral-storage":"104845292Ki","hugepages-1Gi":"0","hugepages-2Mi":"0","memory":"65049452Ki","pods":"110","colo.io/be-cpu":"6000","colo.io/be-memory":"8Gi"}},)"
      R"("allocatable":{{"cpu":"15890m","ephemeral-storage":"95551679124","hugepages-1Gi":"0","hugepages-2Mi":"0","memory":"64001900Ki","pods":"110","colo.io/be-cpu":"6000","colo.io/be-memory":"8Gi"}},)"
      R"("conditions":[{8}],"addresses":[{{"type":"InternalIP","address":"10.0.{6}.{7}"}},{{"type":"Hostname","address":"{0}"}}],)"
      R"("daemonEndpoints":{{"kubeletEndpoint":{{"Port":10250}}}},"nodeInfo":{{"machineID":"{1:032x}","systemUUID":"ec2{1:08x}","bootID":"{1:08x}-b00t","kernelVersion":"6.1.0-27-cloud-amd64","osImage":"Debian GNU/Linux 12 bookworm","containerRuntimeVersion":"containerd://1.7.22","kubeletVersion":"v1.31.2","kubeProxyVersion":"v1.31.2","operatingSystem":"linux","architecture":"amd64"}},)"
      R"("images":[{9}]}}}})",
      nodeName(i), uint32_t(i) * 2654435761u, 1000000 + i, char('a' + i % 3),
      i % 4 == 3 ? "" : R"(,"colo.io/colocation":"true")", metricsAnnotationEscaped(i, ts_ms),
      i / 250, i % 250, conditions, images);
}

// A BE pod asking for colo.io/be-cpu and be-memory, as kube-scheduler sends it.
inline std::string podJson() {
  return R"({"metadata":{"name":"batch-7f9c","namespace":"analytics","uid":"0d5f0c3e-1111-4222-8333-444455556666","labels":{"app":"spark","colo.io/qos":"BE"},"creationTimestamp":null},)"
         R"("spec":{"containers":[{"name":"executor","image":"spark:3.5","resources":{"limits":{"colo.io/be-cpu":"2000","colo.io/be-memory":"4Gi"},"requests":{"colo.io/be-cpu":"2000","colo.io/be-memory":"4Gi"}}}],"schedulerName":"colo-scheduler"},"status":{"phase":"Pending"}})";
}

inline std::string namesBody(int n) {
  std::string body = R"({"Pod":)" + podJson() + R"(,"Nodes":null,"NodeNames":[)";
  for (int i = 0; i < n; ++i) {
    if (i > 0) {
      body += ',';
    }
    body += '"' + nodeName(i) + '"';
  }
  body += "]}";
  return body;
}

inline std::string nodesBody(int n, int64_t ts_ms) {
  std::string body = R"({"Pod":)" + podJson() + R"(,"Nodes":{"metadata":{},"items":[)";
  for (int i = 0; i < n; ++i) {
    if (i > 0) {
      body += ',';
    }
    body += nodeJson(i, ts_ms);
  }
  body += R"(]},"NodeNames":null})";
  return body;
}

// A NodeList as the API server returns it (for a node cache loaded from a file).
inline std::string nodeListBody(int n, int64_t ts_ms) {
  std::string body =
      R"({"kind":"NodeList","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[)";
  for (int i = 0; i < n; ++i) {
    if (i > 0) {
      body += ',';
    }
    body += nodeJson(i, ts_ms);
  }
  body += "]}";
  return body;
}

}  // namespace colo::bench
