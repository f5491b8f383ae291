// load_onnx / parse_onnx: the file (size limit, protobuf with a byte and a
// nesting limit), the model (IR version, opsets), then convert_graph.
#include "loaders/onnx/onnx.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <onnx/onnx_pb.h>

#include <filesystem>
#include <fstream>

#include "ir/error.h"
#include "loaders/onnx/convert.h"
#include "loaders/paths.h"

namespace kiln::loaders {

namespace fs = std::filesystem;
using from_onnx::Opsets;

bool is_onnx_file(const std::string& path) {
  std::error_code ec;
  return path.size() > 5 && path.compare(path.size() - 5, 5, ".onnx") == 0 && fs::is_regular_file(path, ec);
}

static void check_size(uint64_t size, const std::string& file) {
  if (size == 0) throw Error(file, "the file is empty");
  if (size > kMaxOnnxBytes)
    throw Error(file, "the file is " + std::to_string(size) + " bytes, more than the limit of " +
                          std::to_string(kMaxOnnxBytes) + " (protobuf's; keep large weights as external data)");
}

// Parses a ModelProto of `size` bytes, at most kMaxOnnxBytes, nested at most kMaxOnnxNesting deep.
static ::onnx::ModelProto parse_model(google::protobuf::io::ZeroCopyInputStream& stream, uint64_t size,
                                      const std::string& file) {
  google::protobuf::io::CodedInputStream coded(&stream);
  coded.SetTotalBytesLimit(static_cast<int>(kMaxOnnxBytes));
  coded.SetRecursionLimit(kMaxOnnxNesting);
  ::onnx::ModelProto model;
  if (!model.ParseFromCodedStream(&coded) || !coded.ConsumedEntireMessage())
    throw Error(file, "not an ONNX model: malformed or truncated protobuf data (" + std::to_string(size) +
                          " bytes, parsing stopped near byte " + std::to_string(coded.CurrentPosition()) + ")");
  return model;
}

// The model's opsets, checked: the default domain at kMinOnnxOpset to kMaxOnnxOpset.
static Opsets read_opsets(const ::onnx::ModelProto& model, const std::string& file) {
  if (model.ir_version() < 3)
    throw Error(file, "not an ONNX model, or one older than IR version 3: ir_version is " +
                          std::to_string(model.ir_version()));
  if (!model.has_graph()) throw Error(file, "the model has no graph");
  Opsets opsets;
  for (const ::onnx::OperatorSetIdProto& o : model.opset_import()) {
    const std::string domain = o.domain() == "ai.onnx" ? "" : o.domain();
    if (!opsets.emplace(domain, o.version()).second)
      throw Error(file, "opset_import lists the domain '" + o.domain() + "' twice");
  }
  auto it = opsets.find("");
  if (it == opsets.end()) throw Error(file, "the model imports no opset of the default ONNX domain");
  const std::string range = "Kiln reads opsets " + std::to_string(kMinOnnxOpset) + " to " +
                            std::to_string(kMaxOnnxOpset);
  if (it->second > kMaxOnnxOpset)
    throw Error(file, "opset " + std::to_string(it->second) + " is newer than " + range);
  if (it->second < kMinOnnxOpset)
    throw Error(file, "opset " + std::to_string(it->second) + " is older than " + range +
                          " (onnx.version_converter.convert_version can upgrade the model)");
  return opsets;
}

static ir::Graph convert(::onnx::ModelProto& model, const fs::path& root, const std::string& file,
                         const ir::OpTable& ops) {
  Opsets opsets = read_opsets(model, file);
  return from_onnx::convert_graph(*model.mutable_graph(), opsets, ops, from_onnx::TensorFiles{root, file});
}

ir::Graph load_onnx(const std::string& path, const ir::OpTable& ops) {
  std::error_code ec;
  const fs::path canon = fs::canonical(path, ec);
  if (ec) throw Error(path, "cannot open: " + ec.message());
  const uint64_t size = fs::file_size(canon, ec);
  if (ec) throw Error(path, "cannot read: " + ec.message());
  check_size(size, path);
  std::ifstream in(canon, std::ios::binary);
  if (!in) throw Error(path, "cannot open for reading");
  google::protobuf::io::IstreamInputStream stream(&in);
  ::onnx::ModelProto model = parse_model(stream, size, path);
  return convert(model, canon.parent_path(), path, ops);
}

ir::Graph parse_onnx(const std::string& bytes, const std::string& dir, const std::string& file,
                     const ir::OpTable& ops) {
  check_size(bytes.size(), file);
  google::protobuf::io::ArrayInputStream stream(bytes.data(), static_cast<int>(bytes.size()));
  ::onnx::ModelProto model = parse_model(stream, bytes.size(), file);
  return convert(model, model_root(dir), file, ops);
}

}  // namespace kiln::loaders
