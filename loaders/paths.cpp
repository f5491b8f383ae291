#include "loaders/paths.h"

#include "ir/error.h"

namespace kiln::loaders {

namespace fs = std::filesystem;

fs::path model_root(const std::string& dir) {
  std::error_code ec;
  fs::path root = fs::canonical(dir, ec);
  if (ec) throw Error(dir, "cannot open the model directory: " + ec.message());
  if (!fs::is_directory(root)) throw Error(dir, "not a directory");
  return root;
}

static bool is_inside(const fs::path& root, const fs::path& path) {
  auto r = root.begin();
  auto p = path.begin();
  for (; r != root.end(); ++r, ++p) {
    if (p == path.end() || *r != *p) return false;
  }
  return true;
}

fs::path canonical_inside(const fs::path& root, const fs::path& rel, const std::string& what,
                          const std::string& where) {
  std::error_code ec;
  fs::path canon = fs::canonical(root / rel, ec);
  if (ec) throw Error(where, what + " cannot be opened: " + ec.message());
  if (!is_inside(root, canon))
    throw Error(where, what + " resolves to " + canon.string() + ", outside the model directory " +
                           root.string());
  if (!fs::is_regular_file(canon)) throw Error(where, what + " is not a regular file");
  return canon;
}

}  // namespace kiln::loaders
