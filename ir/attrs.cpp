#include "ir/attrs.h"

#include <algorithm>

#include "ir/error.h"

namespace kiln::ir {

static const Attr* find(const Node& node, const std::string& key) {
  auto it = node.attrs.find(key);
  return it == node.attrs.end() ? nullptr : &it->second;
}

[[noreturn]] static void wrong_type(const Node& node, const std::string& key, const char* expected,
                                    const Attr& got) {
  throw Error(node.where(),
              "attribute '" + key + "': expected " + expected + ", got " + attr_str(got));
}

int64_t attr_int(const Node& node, const std::string& key, int64_t fallback) {
  const Attr* a = find(node, key);
  if (!a) return fallback;
  if (auto i = std::get_if<int64_t>(a)) return *i;
  wrong_type(node, key, "an integer", *a);
}

double attr_real(const Node& node, const std::string& key, double fallback) {
  const Attr* a = find(node, key);
  if (!a) return fallback;
  if (auto d = std::get_if<double>(a)) return *d;
  if (auto i = std::get_if<int64_t>(a)) return static_cast<double>(*i);
  wrong_type(node, key, "a number", *a);
}

std::vector<int64_t> attr_ints(const Node& node, const std::string& key,
                               const std::vector<int64_t>& fallback) {
  const Attr* a = find(node, key);
  if (!a) return fallback;
  if (auto l = std::get_if<std::vector<int64_t>>(a)) return *l;
  wrong_type(node, key, "a list of integers", *a);
}

std::string attr_string(const Node& node, const std::string& key, const std::string& fallback) {
  const Attr* a = find(node, key);
  if (!a) return fallback;
  if (auto s = std::get_if<std::string>(a)) return *s;
  wrong_type(node, key, "a string", *a);
}

std::vector<int64_t> attr_ints_checked(const Node& node, const std::string& key, size_t count,
                                       int64_t min, const std::vector<int64_t>& fallback) {
  std::vector<int64_t> v = attr_ints(node, key, fallback);
  bool ok = v.size() == count && std::all_of(v.begin(), v.end(), [&](int64_t x) { return x >= min; });
  // Bound sizes so that later arithmetic on them cannot overflow.
  ok = ok && std::all_of(v.begin(), v.end(), [](int64_t x) { return x <= (1 << 20); });
  if (!ok) {
    std::string what = min > 0 ? "positive" : "non-negative";
    throw Error(node.where(), "attribute '" + key + "': expected " + std::to_string(count) + " " +
                                  what + " integers, got " + attr_str(Attr(v)));
  }
  return v;
}

void check_known_attrs(const Node& node, const std::vector<std::string>& known) {
  for (const auto& [key, value] : node.attrs) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      throw Error(node.where(), "unknown attribute '" + key + "' (known: " +
                                    (list.empty() ? std::string("none") : list) + ")");
    }
  }
}

}  // namespace kiln::ir
