// NPY reader and writer: round trips, the three versions, and each rejection's message.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "ir/error.h"
#include "loaders/npy.h"

namespace fs = std::filesystem;
using kiln::Error;
using kiln::ir::Shape;
using kiln::ir::Tensor;
using kiln::loaders::format_npy;
using kiln::loaders::parse_npy;
using kiln::loaders::read_npy;
using kiln::loaders::write_npy;

namespace {

// Magic, version, little-endian header length (2 bytes for 1.0, 4 for 2.0/3.0), header.
std::string npy_bytes(int major, const std::string& header, const std::string& data = "") {
  std::string out = std::string("\x93NUMPY", 6) + char(major) + '\0';
  size_t len_bytes = major == 1 ? 2 : 4;
  for (size_t i = 0; i < len_bytes; ++i) out += char((header.size() >> (8 * i)) & 0xff);
  return out + header + data;
}

std::string floats(std::initializer_list<float> values) {
  std::string s;
  for (float v : values) s.append(reinterpret_cast<const char*>(&v), 4);
  return s;
}

const std::string kHeader23 = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n";

std::string header_with(const std::string& descr, const std::string& order, const std::string& shape) {
  return "{'descr': " + descr + ", 'fortran_order': " + order + ", 'shape': " + shape + ", }\n";
}

void check_rejects(const std::string& bytes, const std::string& message) {
  CHECK_THROWS_WITH_AS(parse_npy(bytes, "t.npy"), doctest::Contains(message.c_str()), Error);
}

}  // namespace

TEST_CASE("npy: format_npy then parse_npy gives back the same tensor") {
  Tensor t({2, 3}, {-1.5f, 0.f, 1e-30f, 3.25f, -0.f, 7e30f});
  Tensor back = parse_npy(format_npy(t), "t.npy");
  CHECK(back.shape == t.shape);
  CHECK(std::memcmp(back.data.data(), t.data.data(), 6 * 4) == 0);
}

TEST_CASE("npy: the writer emits version 1.0 with the header padded to 64 bytes and ending in a newline") {
  std::string bytes = format_npy(Tensor({2, 3}, kiln::ir::TensorData(6, 1.f)));
  REQUIRE(bytes.size() > 10);
  CHECK(bytes.substr(0, 6) == std::string("\x93NUMPY", 6));
  CHECK(bytes[6] == 1);
  CHECK(bytes[7] == 0);
  size_t header_len = size_t(uint8_t(bytes[8])) | size_t(uint8_t(bytes[9])) << 8;
  CHECK((10 + header_len) % 64 == 0);
  CHECK(bytes[10 + header_len - 1] == '\n');
  CHECK(bytes.substr(10, header_len).find("'shape': (2, 3)") != std::string::npos);
  CHECK(bytes.size() == 10 + header_len + 6 * 4);
}

TEST_CASE("npy: the writer's bytes equal numpy.save's for a 2x3 array") {
  // numpy.save(f, numpy.arange(6, dtype='<f4').reshape(2, 3)) with numpy 1.24.
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  header += std::string(128 - 10 - header.size() - 1, ' ') + "\n";
  std::string expected = npy_bytes(1, header, floats({0, 1, 2, 3, 4, 5}));
  CHECK(format_npy(Tensor({2, 3}, {0, 1, 2, 3, 4, 5})) == expected);
}

TEST_CASE("npy: scalars, vectors and empty arrays round trip") {
  Tensor scalar(Shape{}, {3.25f});
  Tensor back = parse_npy(format_npy(scalar), "t.npy");
  CHECK(back.shape.empty());
  CHECK(back.data == kiln::ir::TensorData{3.25f});
  CHECK(format_npy(scalar).find("'shape': ()") != std::string::npos);

  Tensor vec({3}, {1, 2, 3});
  CHECK(format_npy(vec).find("'shape': (3,)") != std::string::npos);
  CHECK(parse_npy(format_npy(vec), "t.npy").data == vec.data);

  Tensor empty({0, 3});
  CHECK(parse_npy(format_npy(empty), "t.npy").shape == Shape{0, 3});
}

TEST_CASE("npy: write_npy and read_npy round trip through a file") {
  fs::path path = fs::temp_directory_path() / "kiln_npy_test_roundtrip.npy";
  Tensor t({4, 1, 2}, {1, -2, 3, -4, 5, -6, 7, -8});
  write_npy(path.string(), t);
  Tensor back = read_npy(path.string());
  fs::remove(path);
  CHECK(back.shape == t.shape);
  CHECK(back.data == t.data);
}

TEST_CASE("npy: write_npy replaces an existing file whole and leaves no temporary beside it") {
  fs::path dir = fs::temp_directory_path() / "kiln_npy_test_replace";
  fs::remove_all(dir);
  fs::create_directories(dir);
  write_npy((dir / "y.npy").string(), Tensor({1000}));
  write_npy((dir / "y.npy").string(), Tensor({2}, {1, 2}));
  CHECK(read_npy((dir / "y.npy").string()).data == kiln::ir::TensorData{1, 2});
  CHECK(fs::file_size(dir / "y.npy") == 128 + 8);
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 1);
  fs::remove_all(dir);
}

TEST_CASE("npy: versions 2.0 and 3.0 are read") {
  std::string data = floats({1, 2, 3, 4, 5, 6});
  for (int major : {2, 3}) {
    CAPTURE(major);
    Tensor t = parse_npy(npy_bytes(major, kHeader23, data), "t.npy");
    CHECK(t.shape == Shape{2, 3});
    CHECK(t.data == kiln::ir::TensorData{1, 2, 3, 4, 5, 6});
  }
}

TEST_CASE("npy: headers numpy may write are read: unpadded, double quotes, any key order, Python 2 longs") {
  std::string data = floats({1, 2, 3, 4, 5, 6});
  CHECK(parse_npy(npy_bytes(1, "{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4'}", data), "t")
            .shape == Shape{2, 3});
  CHECK(parse_npy(npy_bytes(1, "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2L, 3L)}", data), "t")
            .shape == Shape{2, 3});
}

TEST_CASE("npy: a bad magic string is rejected") {
  check_rejects("\x93NUMPZ\x01\x00", "t.npy: not an NPY file (bad magic");
  check_rejects("", "t.npy: not an NPY file");
}

TEST_CASE("npy: unsupported versions are rejected naming the version") {
  check_rejects(npy_bytes(4, kHeader23), "t.npy: unsupported NPY version 4.0 (Kiln reads 1.0, 2.0 and 3.0)");
  std::string v11 = npy_bytes(1, kHeader23);
  v11[7] = 1;
  check_rejects(v11, "unsupported NPY version 1.1");
}

TEST_CASE("npy: truncated prelude, header and data are rejected") {
  check_rejects(std::string("\x93NUMPY", 6), "truncated NPY file: 6 bytes end inside the version field");
  check_rejects(std::string("\x93NUMPY\x02\x00\x10", 9), "truncated NPY file: 9 bytes end inside the header length field");
  std::string cut = npy_bytes(1, kHeader23).substr(0, 30);
  check_rejects(cut, "truncated NPY file: the header needs 70 bytes, the file has 30");
  check_rejects(npy_bytes(1, kHeader23, floats({1, 2, 3, 4, 5})),
                "data is truncated: shape [2, 3] needs 24 bytes, the file has 20");
}

TEST_CASE("npy: data past the shape's size is rejected as trailing bytes") {
  check_rejects(npy_bytes(1, kHeader23, floats({1, 2, 3, 4, 5, 6, 7})),
                "t.npy: 4 trailing bytes after the data of shape [2, 3] (24 bytes)");
}

TEST_CASE("npy: a header that lies about the shape is rejected") {
  // Claims 1000 elements, carries 6.
  check_rejects(npy_bytes(1, header_with("'<f4'", "False", "(10, 100)"), floats({1, 2, 3, 4, 5, 6})),
                "data is truncated: shape [10, 100] needs 4000 bytes, the file has 24");
  // Claims 2 elements, carries 6.
  check_rejects(npy_bytes(1, header_with("'<f4'", "False", "(2,)"), floats({1, 2, 3, 4, 5, 6})),
                "16 trailing bytes after the data of shape [2]");
}

TEST_CASE("npy: a header that is not a dict is rejected") {
  check_rejects(npy_bytes(1, "[1, 2, 3]\n"), "t.npy: NPY header is not a dict at header offset 0: [1, 2, 3]");
  check_rejects(npy_bytes(1, ""), "NPY header is not a dict");
}

TEST_CASE("npy: a header missing a key or with an unexpected or repeated key is rejected") {
  check_rejects(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False}\n"),
                "t.npy: NPY header has no 'shape' key");
  check_rejects(npy_bytes(1, "{'shape': (1,), 'fortran_order': False}\n"),
                "NPY header has no 'descr' key");
  check_rejects(npy_bytes(1, "{'descr': '<f4', 'shape': (1,)}\n"), "NPY header has no 'fortran_order' key");
  check_rejects(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}\n"),
                "NPY header has an unexpected key 'x'");
  check_rejects(npy_bytes(1, "{'descr': '<f4', 'descr': '<f4'}\n"), "NPY header repeats key 'descr'");
}

TEST_CASE("npy: an unparsable header is rejected with the offset and the header text") {
  check_rejects(npy_bytes(1, "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,)}\n"),
                "NPY header: expected True or False for 'fortran_order' at header offset 34: {'descr'");
  check_rejects(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, -2)}\n"),
                "expected a non-negative integer in 'shape'");
  check_rejects(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': [1]}\n"),
                "expected a tuple for 'shape'");
  check_rejects(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} junk\n"),
                "NPY header: unexpected text after the dict");
  check_rejects(npy_bytes(1, "{'descr: '<f4'}\n"), "NPY header: expected ':' after key");
  check_rejects(npy_bytes(1, "{'descr': '<f4'"), "NPY header: expected ',' or '}'");
}

TEST_CASE("npy: other dtypes are rejected naming the dtype") {
  check_rejects(npy_bytes(1, header_with("'<f8'", "False", "(1,)"), std::string(8, '\0')),
                "t.npy: dtype '<f8' is not supported (Kiln reads '<f4', little-endian float32)");
  check_rejects(npy_bytes(1, header_with("'>f4'", "False", "(1,)"), std::string(4, '\0')),
                "dtype '>f4' is not supported");
  check_rejects(npy_bytes(1, header_with("'|f4'", "False", "(1,)"), std::string(4, '\0')),
                "dtype '|f4' is not supported");
  check_rejects(npy_bytes(1, header_with("[('a', '<f4')]", "False", "(1,)"), std::string(4, '\0')),
                "structured dtypes are not supported");
}

TEST_CASE("npy: fortran order is rejected") {
  check_rejects(npy_bytes(1, header_with("'<f4'", "True", "(2, 3)"), floats({1, 2, 3, 4, 5, 6})),
                "t.npy: fortran_order True is not supported (Kiln reads C order)");
}

TEST_CASE("npy: limits on header length, rank, dimension and element count hold before allocation") {
  // A v2 prelude claiming a 70000-byte header: refused without the header being present.
  std::string big = std::string("\x93NUMPY\x02\x00", 8) + std::string("\x70\x11\x01\x00", 4);
  check_rejects(big, "NPY header is 70000 bytes, more than the limit of 65536");
  check_rejects(npy_bytes(1, header_with("'<f4'", "False", "(1, 1, 1, 1, 1, 1, 1, 1, 1)")),
                "shape has more than 8 dimensions, the limit");
  check_rejects(npy_bytes(1, header_with("'<f4'", "False", "(99999999999999999999999,)")),
                "shape has a dimension larger than the limit of 2147483648 elements");
  // Each dimension is within the limit, the product (2^48) is not and would
  // overflow a naive 32-bit count; no data is present, so nothing may be allocated.
  check_rejects(npy_bytes(1, header_with("'<f4'", "False", "(65536, 65536, 65536)")),
                "shape [65536, 65536, 65536] has more than 2147483648 elements, the limit");
  // 2^62 * 4 bytes would overflow uint64 if multiplied unchecked.
  check_rejects(npy_bytes(1, header_with("'<f4'", "False", "(2147483648, 2147483648, 0)")),
                "has more than 2147483648 elements");
}

TEST_CASE("npy: read_npy names the file in its errors") {
  fs::path path = fs::temp_directory_path() / "kiln_npy_test_bad.npy";
  {
    std::ofstream out(path, std::ios::binary);
    out << npy_bytes(1, header_with("'<i8'", "False", "(1,)"), std::string(8, '\0'));
  }
  CHECK_THROWS_WITH_AS(read_npy(path.string()),
                       doctest::Contains((path.string() + ": dtype '<i8' is not supported").c_str()), Error);
  CHECK_THROWS_WITH_AS(read_npy(path.string(), "model/weights/w.npy"),
                       doctest::Contains("model/weights/w.npy: dtype '<i8'"), Error);
  fs::remove(path);
  CHECK_THROWS_WITH_AS(read_npy(path.string()),
                       doctest::Contains((path.string() + ": cannot open file").c_str()), Error);
}

TEST_CASE("npy: read_npy checks the file's data size, not only the header") {
  fs::path path = fs::temp_directory_path() / "kiln_npy_test_short.npy";
  {
    std::ofstream out(path, std::ios::binary);
    out << npy_bytes(3, kHeader23, floats({1, 2, 3}));
  }
  CHECK_THROWS_WITH_AS(read_npy(path.string()),
                       doctest::Contains("data is truncated: shape [2, 3] needs 24 bytes, the file has 12"),
                       Error);
  fs::remove(path);
}
