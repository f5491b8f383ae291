// The Google Benchmark microbenchmarks, registered from main.cpp in one plain
// list. Each register_* adds its cases; names read "what/parameters".
#pragma once

#include <string>

namespace kiln::bench {

// Every case of op_cases.h at batch 1 and 10: one-node graphs run through the engine.
void register_op_benchmarks();
// fold_batchnorm and engine::fuse on ResNet18.
void register_pass_benchmarks();
// load_model_dir, load_model and read_npy on ResNet18 saved in `model_dir`.
void register_loader_benchmarks(const std::string& model_dir);
// engine::compile and Context set-up for ResNet18.
void register_compile_benchmarks();

}  // namespace kiln::bench
