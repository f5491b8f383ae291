#include "ir/large_buffer.h"

#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>

namespace kiln::ir {

namespace {

constexpr size_t kHugePage = size_t(2) << 20;
constexpr size_t kAlignment = 64;

size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

}  // namespace

void* allocate_large(size_t bytes) {
  if (bytes == 0) return nullptr;
  const bool huge = bytes >= kHugePage;
  // posix_memalign, not aligned_alloc: the latter wants the size to be a
  // multiple of the alignment, and a huge buffer's tail is not.
  void* p = nullptr;
  if (posix_memalign(&p, huge ? kHugePage : kAlignment, round_up(bytes, kAlignment)) != 0)
    throw std::bad_alloc();
  // Only the whole 2 MiB blocks: advising the tail would round it up to a huge page.
  if (huge) madvise(p, bytes / kHugePage * kHugePage, MADV_HUGEPAGE);
  return p;
}

void free_large(void* p) noexcept { std::free(p); }

}  // namespace kiln::ir
