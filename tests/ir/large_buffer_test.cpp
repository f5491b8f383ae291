// ir/large_buffer.h: allocations of 2 MiB or more start on a 2 MiB boundary
// (so their whole 2 MiB blocks can be huge pages), smaller ones on 64 bytes;
// the memory is usable to its last byte. Whether the kernel grants huge
// pages is its choice and is not checked here.
#include "ir/large_buffer.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <new>
#include <vector>

using namespace kiln;

namespace {

constexpr size_t kMiB = size_t(1) << 20;

uintptr_t address(const void* p) { return reinterpret_cast<uintptr_t>(p); }

}  // namespace

TEST_CASE("large_buffer: zero bytes give nullptr, and free_large takes it") {
  CHECK(ir::allocate_large(0) == nullptr);
  ir::free_large(nullptr);
}

TEST_CASE("large_buffer: small buffers are 64-byte aligned, large ones 2 MiB aligned") {
  for (size_t bytes : {size_t(1), size_t(100), size_t(4096), 2 * kMiB - 1}) {
    CAPTURE(bytes);
    void* p = ir::allocate_large(bytes);
    REQUIRE(p != nullptr);
    CHECK(address(p) % 64 == 0);
    std::memset(p, 0xab, bytes);
    CHECK(static_cast<unsigned char*>(p)[bytes - 1] == 0xab);
    ir::free_large(p);
  }
  // 2 MiB exactly, and with a tail past the last whole 2 MiB block.
  for (size_t bytes : {2 * kMiB, 5 * kMiB + 7}) {
    CAPTURE(bytes);
    void* p = ir::allocate_large(bytes);
    REQUIRE(p != nullptr);
    CHECK(address(p) % (2 * kMiB) == 0);
    std::memset(p, 0xcd, bytes);
    CHECK(static_cast<unsigned char*>(p)[bytes - 1] == 0xcd);
    ir::free_large(p);
  }
}

TEST_CASE("large_buffer: LargeBufferAllocator backs a std::vector and refuses an impossible size") {
  std::vector<float, ir::LargeBufferAllocator<float>> v(3 * kMiB / sizeof(float), 1.5f);
  CHECK(address(v.data()) % (2 * kMiB) == 0);
  CHECK(v.back() == 1.5f);
  std::vector<float, ir::LargeBufferAllocator<float>> small(5, 2.f);
  CHECK(address(small.data()) % 64 == 0);
  CHECK(ir::LargeBufferAllocator<float>() == ir::LargeBufferAllocator<double>());
  CHECK_FALSE(ir::LargeBufferAllocator<float>() != ir::LargeBufferAllocator<double>());
  ir::LargeBufferAllocator<double> allocator;
  CHECK_THROWS_AS(allocator.allocate(static_cast<size_t>(-1) / 4), std::bad_array_new_length);
}
