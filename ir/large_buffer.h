// Large buffers (weights, packed weights, activations) on transparent huge pages.
//
// A model's weights and activations are tens of megabytes, written once when
// they are loaded, folded, packed or first run. Each 4 KiB page the kernel
// hands out on first touch is a page fault; on a virtual machine a fault can
// cost 10 us or more, which made loading, folding and compiling ResNet18
// (about 46 MB of weights, touched three times) take hundreds of
// milliseconds, almost all in the kernel (bench/: fold_batchnorm/resnet18
// 110-190 ms, compile/... 100-400 ms). A buffer of 2 MiB or more is
// therefore allocated 2 MiB-aligned and advised MADV_HUGEPAGE, so its whole
// 2 MiB blocks come as huge pages, one fault each; its tail past the last
// whole block stays on small pages, so little memory is wasted. It still
// comes from malloc, so freed memory is reused without new faults. Smaller
// buffers are plain 64-byte aligned allocations. Where the kernel has
// transparent huge pages disabled, the advice is ignored.
#pragma once

#include <cstddef>
#include <new>

namespace kiln::ir {

// At least 64-byte aligned (the widest vector load); nullptr for 0 bytes.
// Throws std::bad_alloc when out of memory.
void* allocate_large(size_t bytes);
// Frees what allocate_large returned.
void free_large(void* p) noexcept;

// A std::allocator for std::vector: Tensor's data uses it.
template <class T>
struct LargeBufferAllocator {
  using value_type = T;
  LargeBufferAllocator() = default;
  template <class U>
  LargeBufferAllocator(const LargeBufferAllocator<U>&) noexcept {}

  T* allocate(size_t n) {
    if (n > static_cast<size_t>(-1) / sizeof(T)) throw std::bad_array_new_length();
    return static_cast<T*>(allocate_large(n * sizeof(T)));
  }
  void deallocate(T* p, size_t) noexcept { free_large(p); }

  template <class U>
  bool operator==(const LargeBufferAllocator<U>&) const noexcept { return true; }
  template <class U>
  bool operator!=(const LargeBufferAllocator<U>&) const noexcept { return false; }
};

}  // namespace kiln::ir
