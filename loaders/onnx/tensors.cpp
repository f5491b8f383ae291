// TensorProto -> Constant. A tensor's data is in one of three places: typed
// fields (float_data, int64_data, int32_data), raw_data (little-endian
// bytes), or a file beside the model (data_location EXTERNAL, with
// key/value pairs location, offset, length). Every size is checked against
// the bytes actually present before anything is allocated.
#include "loaders/onnx/tensors.h"

#include <cstring>
#include <fstream>

#include "ir/error.h"
#include "loaders/npy.h"
#include "loaders/onnx/onnx.h"
#include "loaders/paths.h"

namespace kiln::loaders::from_onnx {

namespace fs = std::filesystem;
using ::onnx::TensorProto;

int64_t Constant::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string onnx_type_name(int32_t data_type) {
  static const char* names[] = {"undefined", "float32", "uint8",  "int8",      "uint16",
                                "int16",     "int32",   "int64",  "string",    "bool",
                                "float16",   "float64", "uint32", "uint64",    "complex64",
                                "complex128", "bfloat16"};
  if (data_type >= 0 && data_type < int32_t(sizeof(names) / sizeof(names[0]))) return names[data_type];
  return "type " + std::to_string(data_type);
}

// Bytes per element in raw_data or an external file; 0 for types Kiln does not read.
static size_t element_bytes(int32_t data_type) {
  switch (data_type) {
    case TensorProto::FLOAT: return 4;
    case TensorProto::INT64: return 8;
    case TensorProto::INT32: return 4;
    case TensorProto::BOOL: return 1;
    default: return 0;
  }
}

static ir::Shape read_dims(const TensorProto& t, const std::string& where) {
  if (static_cast<size_t>(t.dims_size()) > kNpyMaxRank)
    throw Error(where, "has " + std::to_string(t.dims_size()) + " dims, more than the limit of " +
                           std::to_string(kNpyMaxRank));
  ir::Shape shape(t.dims().begin(), t.dims().end());
  int64_t numel = 1;
  for (int64_t d : shape) {
    if (d < 0) throw Error(where, "dims " + ir::shape_str(shape) + ": a dimension is negative");
    if (d != 0 && numel > kNpyMaxElements / d)
      throw Error(where, "dims " + ir::shape_str(shape) + " have more than " +
                             std::to_string(kNpyMaxElements) + " elements, the limit");
    numel *= d;
  }
  return shape;
}

// A decimal offset or length from external_data, or an error.
static uint64_t read_decimal(const std::string& text, const std::string& key, const std::string& where) {
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos)
    throw Error(where, "external data '" + key + "': expected a non-negative integer, got '" +
                           text.substr(0, 40) + "'");
  return std::stoull(text);
}

// The bytes of an external tensor: exactly `need` of them, from a file inside
// the model's folder, after checking offset and length against its size.
static std::string read_external(const TensorProto& t, uint64_t need, const std::string& where,
                                 const TensorFiles& files) {
  std::string location;
  uint64_t offset = 0, length = need;
  bool has_location = false;
  for (const auto& kv : t.external_data()) {
    if (kv.key() == "location") {
      location = kv.value();
      has_location = true;
    } else if (kv.key() == "offset") {
      offset = read_decimal(kv.value(), "offset", where);
    } else if (kv.key() == "length") {
      length = read_decimal(kv.value(), "length", where);
    } else if (kv.key() != "checksum") {
      throw Error(where, "external data: unknown key '" + kv.key().substr(0, 40) +
                             "' (known: location, offset, length, checksum)");
    }
  }
  if (!has_location || location.empty()) throw Error(where, "external data has no 'location'");
  const std::string what = "external data '" + location + "'";
  fs::path rel(location);
  if (location.find('\0') != std::string::npos || rel.is_absolute() || rel.has_root_name() ||
      rel.has_root_directory())
    throw Error(where, what + ": the location must be a path relative to the model's folder");
  fs::path normal = rel.lexically_normal();
  if (normal.empty() || *normal.begin() == "..")
    throw Error(where, what + ": the location leaves the model's folder");
  fs::path path = canonical_inside(files.root, normal, what, where);

  if (length != need)
    throw Error(where, what + ": length " + std::to_string(length) + ", but the dims need " +
                           std::to_string(need) + " bytes");
  std::error_code ec;
  uint64_t size = fs::file_size(path, ec);
  if (ec) throw Error(where, what + " cannot be read: " + ec.message());
  if (offset > size || need > size - offset)
    throw Error(where, what + ": offset " + std::to_string(offset) + " + length " +
                           std::to_string(need) + " is past the end of the file (" +
                           std::to_string(size) + " bytes)");
  std::ifstream in(path, std::ios::binary);
  std::string bytes(static_cast<size_t>(need), '\0');
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(&bytes[0], static_cast<std::streamsize>(need));
  if (!in) throw Error(where, what + ": read error");
  return bytes;
}

// Element i of little-endian raw bytes, as int64.
static int64_t raw_int(const std::string& bytes, size_t i, int32_t data_type) {
  if (data_type == TensorProto::BOOL) return bytes[i] != 0;
  if (data_type == TensorProto::INT32) {
    int32_t v;
    std::memcpy(&v, bytes.data() + 4 * i, 4);
    return v;
  }
  int64_t v;
  std::memcpy(&v, bytes.data() + 8 * i, 8);
  return v;
}

std::shared_ptr<const Constant> read_tensor(const TensorProto& t, const std::string& where,
                                            const TensorFiles& files) {
  auto c = std::make_shared<Constant>();
  c->shape = read_dims(t, where);
  const int32_t type = t.data_type();
  const size_t bytes_per = element_bytes(type);
  if (bytes_per == 0)
    throw Error(where, "data type " + onnx_type_name(type) +
                           " is not supported (Kiln reads float32 weights, and int64, int32 or "
                           "bool for shapes and indices)");
  c->type = type == TensorProto::FLOAT ? Constant::Type::f32 : Constant::Type::i64;
  const int64_t numel = c->numel();
  if (c->type == Constant::Type::i64 && numel > kMaxOnnxIntElements)
    throw Error(where, "an integer tensor of " + std::to_string(numel) +
                           " elements, more than the limit of " + std::to_string(kMaxOnnxIntElements));
  if (t.has_segment()) throw Error(where, "segmented tensors are not supported");

  // Raw bytes from raw_data or an external file, else the typed field.
  const uint64_t need = static_cast<uint64_t>(numel) * bytes_per;
  const bool external = t.data_location() == TensorProto::EXTERNAL;
  std::string external_bytes;
  if (external) {
    if (t.has_raw_data()) throw Error(where, "has both raw_data and external data");
    external_bytes = read_external(t, need, where, files);
  }
  const std::string* raw = external ? &external_bytes : t.has_raw_data() ? &t.raw_data() : nullptr;
  size_t have = 0;
  if (raw) have = raw->size();
  else if (type == TensorProto::FLOAT) have = static_cast<size_t>(t.float_data_size());
  else if (type == TensorProto::INT64) have = static_cast<size_t>(t.int64_data_size());
  else have = static_cast<size_t>(t.int32_data_size());
  const uint64_t want = raw ? need : static_cast<uint64_t>(numel);
  if (have != want)
    throw Error(where, "dims " + ir::shape_str(c->shape) + " need " + std::to_string(want) +
                           (raw ? " bytes" : " values") + " of " + onnx_type_name(type) + ", the " +
                           (external ? "external data" : raw ? "raw_data" : "tensor") + " holds " +
                           std::to_string(have));

  if (c->type == Constant::Type::f32) {
    auto tensor = std::make_shared<ir::Tensor>(c->shape);
    if (raw && numel > 0) std::memcpy(tensor->data.data(), raw->data(), static_cast<size_t>(need));
    if (!raw) std::copy(t.float_data().begin(), t.float_data().end(), tensor->data.begin());
    c->f32 = std::move(tensor);
    return c;
  }
  c->i64.resize(static_cast<size_t>(numel));
  for (size_t i = 0; i < c->i64.size(); ++i) {
    if (raw) c->i64[i] = raw_int(*raw, i, type);
    else if (type == TensorProto::INT64) c->i64[i] = t.int64_data(static_cast<int>(i));
    else c->i64[i] = type == TensorProto::BOOL ? t.int32_data(static_cast<int>(i)) != 0
                                               : t.int32_data(static_cast<int>(i));
    // The one value Kiln reserves for the free batch (kBatchElement).
    if (c->i64[i] == kBatchElement)
      throw Error(where, "element " + std::to_string(i) + " is -2^63, out of the range Kiln reads");
  }
  return c;
}

}  // namespace kiln::loaders::from_onnx
