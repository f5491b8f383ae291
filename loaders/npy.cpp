// NPY format (numpy/lib/format.py):
//
//   "\x93NUMPY" major minor   6 + 2 bytes
//   header length             uint16 LE (1.0) or uint32 LE (2.0, 3.0)
//   header                    a Python dict literal, space-padded, ending in '\n':
//                             {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
//   data                      numel * 4 bytes, C order
//
// 3.0 differs from 2.0 only in allowing UTF-8 in the header, which a float32
// header never needs. Every size is checked before anything is allocated.
#include "loaders/npy.h"

#include <algorithm>
#include <cstring>
#include <fstream>

#include "ir/error.h"
#include "loaders/atomic_write.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "Kiln's NPY reader copies '<f4' data as is, so it needs a little-endian host"
#endif

namespace kiln::loaders {

namespace {

const char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicBytes = 6;
constexpr size_t kHeaderAlign = 64;  // numpy >= 1.14 aligns the data to 64 bytes

// Where the header dict starts and ends, from the magic, version and length fields.
struct Prelude {
  size_t header_start = 0;
  size_t header_end = 0;  // also where the data starts
};

// `head` holds the first bytes of the file (at least 12 if the file has them);
// `file_size` is the whole file's size.
Prelude parse_prelude(const std::string& head, uint64_t file_size, const std::string& where) {
  if (head.size() < kMagicBytes || std::memcmp(head.data(), kMagic, kMagicBytes) != 0)
    throw Error(where, "not an NPY file (bad magic; expected \"\\x93NUMPY\")");
  if (head.size() < kMagicBytes + 2)
    throw Error(where, "truncated NPY file: " + std::to_string(file_size) +
                           " bytes end inside the version field");
  int major = static_cast<unsigned char>(head[6]);
  int minor = static_cast<unsigned char>(head[7]);
  if ((major != 1 && major != 2 && major != 3) || minor != 0)
    throw Error(where, "unsupported NPY version " + std::to_string(major) + "." +
                           std::to_string(minor) + " (Kiln reads 1.0, 2.0 and 3.0)");
  size_t length_bytes = major == 1 ? 2 : 4;
  Prelude p;
  p.header_start = kMagicBytes + 2 + length_bytes;
  if (head.size() < p.header_start)
    throw Error(where, "truncated NPY file: " + std::to_string(file_size) +
                           " bytes end inside the header length field");
  uint64_t header_len = 0;
  for (size_t i = 0; i < length_bytes; ++i)
    header_len |= uint64_t(static_cast<unsigned char>(head[8 + i])) << (8 * i);
  if (header_len > kNpyMaxHeaderBytes)
    throw Error(where, "NPY header is " + std::to_string(header_len) +
                           " bytes, more than the limit of " + std::to_string(kNpyMaxHeaderBytes));
  p.header_end = p.header_start + static_cast<size_t>(header_len);
  if (file_size < p.header_end)
    throw Error(where, "truncated NPY file: the header needs " + std::to_string(p.header_end) +
                           " bytes, the file has " + std::to_string(file_size));
  return p;
}

// A cursor over the header dict. Only the literals a float32 header uses are
// understood: strings, True/False, tuples of non-negative integers.
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& where) : text_(text), where_(where) {}

  ir::Shape parse() {
    skip_space();
    if (!eat('{')) fail("NPY header is not a dict");
    bool has_descr = false, has_order = false, has_shape = false;
    ir::Shape shape;
    skip_space();
    while (!eat('}')) {
      std::string key = parse_string("a quoted key");
      skip_space();
      if (!eat(':')) fail("NPY header: expected ':' after key '" + key + "'");
      skip_space();
      if (key == "descr") {
        mark(has_descr, key);
        check_descr();
      } else if (key == "fortran_order") {
        mark(has_order, key);
        if (parse_bool())
          throw Error(where_, "fortran_order True is not supported (Kiln reads C order)");
      } else if (key == "shape") {
        mark(has_shape, key);
        shape = parse_shape();
      } else {
        throw Error(where_, "NPY header has an unexpected key '" + key + "'");
      }
      skip_space();
      if (!eat(',')) {
        skip_space();
        if (!eat('}')) fail("NPY header: expected ',' or '}'");
        break;
      }
      skip_space();
    }
    skip_space();
    if (pos_ != text_.size()) fail("NPY header: unexpected text after the dict");
    if (!has_descr) throw Error(where_, "NPY header has no 'descr' key");
    if (!has_order) throw Error(where_, "NPY header has no 'fortran_order' key");
    if (!has_shape) throw Error(where_, "NPY header has no 'shape' key");
    return shape;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(where_, what + " at header offset " + std::to_string(pos_) + ": " + excerpt());
  }

  // The header, shortened and with control characters escaped, for messages.
  std::string excerpt() const {
    std::string s;
    for (size_t i = 0; i < text_.size() && i < 96; ++i) {
      unsigned char c = static_cast<unsigned char>(text_[i]);
      s += c >= 0x20 && c < 0x7f ? std::string(1, static_cast<char>(c)) : std::string("?");
    }
    return text_.size() > 96 ? s + "..." : s;
  }

  void mark(bool& seen, const std::string& key) {
    if (seen) throw Error(where_, "NPY header repeats key '" + key + "'");
    seen = true;
  }

  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' ||
                                   text_[pos_] == '\t' || text_[pos_] == '\r'))
      ++pos_;
  }

  bool eat(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  std::string parse_string(const std::string& what) {
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"'))
      fail("NPY header: expected " + what);
    char quote = text_[pos_++];
    std::string s;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      if (text_[pos_] == '\\' && pos_ + 1 < text_.size()) ++pos_;
      s += text_[pos_++];
    }
    if (!eat(quote)) fail("NPY header: unterminated string");
    return s;
  }

  void check_descr() {
    if (pos_ < text_.size() && (text_[pos_] == '[' || text_[pos_] == '('))
      throw Error(where_, "structured dtypes are not supported (Kiln reads '<f4', little-endian float32)");
    std::string descr = parse_string("a dtype string for 'descr'");
    if (descr != "<f4")
      throw Error(where_, "dtype '" + descr +
                              "' is not supported (Kiln reads '<f4', little-endian float32)");
  }

  bool parse_bool() {
    if (text_.compare(pos_, 4, "True") == 0) {
      pos_ += 4;
      return true;
    }
    if (text_.compare(pos_, 5, "False") == 0) {
      pos_ += 5;
      return false;
    }
    fail("NPY header: expected True or False for 'fortran_order'");
  }

  // "()", "(3,)", "(3, 4)"; Python 2 wrote "3L".
  ir::Shape parse_shape() {
    if (!eat('(')) fail("NPY header: expected a tuple for 'shape'");
    ir::Shape shape;
    skip_space();
    while (!eat(')')) {
      if (shape.size() == kNpyMaxRank)
        throw Error(where_, "shape has more than " + std::to_string(kNpyMaxRank) +
                                " dimensions, the limit");
      shape.push_back(parse_dim());
      eat('L');
      skip_space();
      if (!eat(',')) {
        skip_space();
        if (!eat(')')) fail("NPY header: expected ',' or ')' in 'shape'");
        break;
      }
      skip_space();
    }
    return shape;
  }

  int64_t parse_dim() {
    if (pos_ >= text_.size() || text_[pos_] < '0' || text_[pos_] > '9')
      fail("NPY header: expected a non-negative integer in 'shape'");
    int64_t d = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      d = d * 10 + (text_[pos_++] - '0');
      if (d > kNpyMaxElements)
        throw Error(where_, "shape has a dimension larger than the limit of " +
                                std::to_string(kNpyMaxElements) + " elements");
    }
    return d;
  }

  const std::string& text_;
  const std::string& where_;
  size_t pos_ = 0;
};

// The element count, checked against the limit one factor at a time so the
// product never overflows.
int64_t checked_numel(const ir::Shape& shape, const std::string& where) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d != 0 && n > kNpyMaxElements / d)
      throw Error(where, "shape " + ir::shape_str(shape) + " has more than " +
                             std::to_string(kNpyMaxElements) + " elements, the limit");
    n *= d;
  }
  return n;
}

// The data must be exactly numel * 4 bytes: anything else means the header lies.
void check_data_size(const ir::Shape& shape, int64_t numel, uint64_t data_bytes,
                     const std::string& where) {
  uint64_t needed = static_cast<uint64_t>(numel) * 4;
  if (data_bytes < needed)
    throw Error(where, "data is truncated: shape " + ir::shape_str(shape) + " needs " +
                           std::to_string(needed) + " bytes, the file has " +
                           std::to_string(data_bytes));
  if (data_bytes > needed)
    throw Error(where, std::to_string(data_bytes - needed) +
                           " trailing bytes after the data of shape " + ir::shape_str(shape) +
                           " (" + std::to_string(needed) + " bytes)");
}

}  // namespace

ir::Tensor parse_npy(const std::string& bytes, const std::string& where) {
  Prelude p = parse_prelude(bytes, bytes.size(), where);
  std::string header = bytes.substr(p.header_start, p.header_end - p.header_start);
  ir::Shape shape = HeaderParser(header, where).parse();
  int64_t numel = checked_numel(shape, where);
  check_data_size(shape, numel, bytes.size() - p.header_end, where);
  ir::Tensor t(shape);
  if (numel > 0) std::memcpy(t.data.data(), bytes.data() + p.header_end, size_t(numel) * 4);
  return t;
}

ir::Tensor read_npy(const std::string& path) { return read_npy(path, path); }

ir::Tensor read_npy(const std::string& path, const std::string& where) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw Error(where, "cannot open file");
  std::streamoff end = in.tellg();
  if (end < 0) throw Error(where, "cannot determine the file size");
  uint64_t file_size = static_cast<uint64_t>(end);
  in.seekg(0);

  // Read the prelude, then the header, then (after every check) the data.
  std::string head(static_cast<size_t>(std::min<uint64_t>(file_size, 12)), '\0');
  in.read(&head[0], static_cast<std::streamsize>(head.size()));
  Prelude p = parse_prelude(head, file_size, where);
  std::string header(p.header_end - p.header_start, '\0');
  in.seekg(static_cast<std::streamoff>(p.header_start));
  in.read(&header[0], static_cast<std::streamsize>(header.size()));
  if (!in) throw Error(where, "read error in the NPY header");
  ir::Shape shape = HeaderParser(header, where).parse();
  int64_t numel = checked_numel(shape, where);
  check_data_size(shape, numel, file_size - p.header_end, where);

  ir::Tensor t(shape);
  in.read(reinterpret_cast<char*>(t.data.data()), static_cast<std::streamsize>(numel * 4));
  if (!in) throw Error(where, "read error in the NPY data");
  return t;
}

std::string format_npy(const ir::Tensor& tensor) {
  if (tensor.dtype != ir::DType::f32)
    throw Error("format_npy", std::string("dtype ") + ir::dtype_name(tensor.dtype) +
                                  " cannot be written (Kiln writes '<f4')");
  if (ir::shape_numel(tensor.shape) != tensor.numel())
    throw Error("format_npy", "tensor data has " + std::to_string(tensor.numel()) +
                                  " elements, its shape " + ir::shape_str(tensor.shape) +
                                  " needs " + std::to_string(ir::shape_numel(tensor.shape)));
  std::string dims;
  for (size_t i = 0; i < tensor.shape.size(); ++i)
    dims += (i ? ", " : "") + std::to_string(tensor.shape[i]);
  if (tensor.shape.size() == 1) dims += ",";  // Python's one-element tuple
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";

  // Pad with spaces so that magic + version + length + dict + '\n' is a multiple of 64.
  size_t prelude = kMagicBytes + 2 + 2;
  size_t total = prelude + dict.size() + 1;
  size_t padded = (total + kHeaderAlign - 1) / kHeaderAlign * kHeaderAlign;
  std::string header = dict + std::string(padded - total, ' ') + "\n";

  std::string out(kMagic, kMagicBytes);
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>((header.size() >> 8) & 0xff);
  out += header;
  out.append(reinterpret_cast<const char*>(tensor.data.data()), tensor.data.size() * 4);
  return out;
}

void write_npy(const std::string& path, const ir::Tensor& tensor) {
  replace_file(path, format_npy(tensor));
}

}  // namespace kiln::loaders
