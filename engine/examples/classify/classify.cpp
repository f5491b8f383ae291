// Classifies an image with Kiln's built-in ResNet18, BatchNorms folded.
//   classify [IMAGE.npy]   IMAGE: float32 [1, 3, 224, 224]; default: a seeded random image
#include <algorithm>
#include <cstdio>
#include <numeric>
#include <random>
#include <utility>

#include <kiln/kiln.h>

int main(int argc, char** argv) try {
  kiln::Model model = kiln::Model::load("resnet18");
  model.fuse(kiln::Fuse::batchnorm);
  const size_t batchnorms_left = model.op_count("batchnorm");
  // The model is needed no more: compiled from itself, it frees each weight
  // as soon as the kernels hold their packed copy.
  kiln::Runner runner = std::move(model).compile(/*batch=*/1);

  kiln::Tensor image{{1, 3, 224, 224}, std::vector<float>(3 * 224 * 224)};
  if (argc > 1) {
    image = kiln::read_npy(argv[1]);
  } else {
    std::mt19937 rng(42);
    std::uniform_real_distribution<float> uniform(-1.f, 1.f);
    for (float& v : image.data) v = uniform(rng);
  }
  std::vector<float> scores = runner.run({image}).at(0).data;

  std::vector<int> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + 5, order.end(),
                    [&](int a, int b) { return scores[a] > scores[b]; });
  std::printf("top-5 of %zu classes (%zu BatchNorms left after folding):\n", scores.size(),
              batchnorms_left);
  for (int i = 0; i < 5; ++i) std::printf("  class %4d  score %.4f\n", order[i], scores[order[i]]);
  return 0;
} catch (const kiln::Error& e) {
  std::fprintf(stderr, "classify: %s\n", e.what());
  return 1;
}
