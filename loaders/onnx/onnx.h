// The ONNX loader: an .onnx file (ONNX opsets 11 to 17) as an ir::Graph of
// Kiln's ops, ready for the same passes and engine as a model directory.
//
//   ir::Graph g = loaders::load_onnx("resnet18.onnx", ops::registry().schemas());
//
// Each ONNX op maps onto Kiln's ops through one small handler (the table is
// loaders/onnx/handlers.cpp); shape arithmetic (Shape, Gather, Unsqueeze,
// Concat feeding a Reshape) is folded to constants while loading. Ops Kiln
// cannot run yet are collected, and one kiln::Error lists every such node
// with its op type and opset. docs/ONNX.md lists the ops and the rules.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "ir/graph.h"
#include "ir/op_schema.h"

namespace kiln::loaders {

// An .onnx file is refused above this size before it is read: protobuf
// parses at most 2 GiB - 1 bytes as one message. Larger models keep their
// weights as external data (docs/ONNX.md).
constexpr uint64_t kMaxOnnxBytes = (uint64_t(1) << 31) - 1;
// The opsets of the default domain ("" or "ai.onnx") Kiln reads. Older
// models are refused with a pointer to onnx.version_converter.
constexpr int64_t kMinOnnxOpset = 11;
constexpr int64_t kMaxOnnxOpset = 17;
// Nodes and initializers in one graph (as for graph.json: ResNet-152 has
// about 500 nodes), and how deeply protobuf may nest messages (subgraphs).
constexpr size_t kMaxOnnxNodes = 100000;
constexpr size_t kMaxOnnxInitializers = 4 * kMaxOnnxNodes;
constexpr int kMaxOnnxNesting = 64;
// Integer tensors (shapes, axes, indices) are small; this bounds what
// folding shape arithmetic may allocate. Float tensors have the NPY limit.
constexpr int64_t kMaxOnnxIntElements = int64_t(1) << 20;

// True for a path to a regular file whose name ends in ".onnx".
bool is_onnx_file(const std::string& path);

// Reads and converts an .onnx file. External data is read from files beside
// it (relative paths that stay inside its folder). Output shapes are
// inferred; the caller still runs ir::verify().
ir::Graph load_onnx(const std::string& path, const ir::OpTable& ops);

// As load_onnx(), from the file's bytes: external data is looked up in
// `dir`, and errors name `file`. For fuzzing and for models in memory.
ir::Graph parse_onnx(const std::string& bytes, const std::string& dir, const std::string& file,
                     const ir::OpTable& ops);

}  // namespace kiln::loaders
