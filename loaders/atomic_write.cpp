// Write to a temporary beside the target, fsync, rename into place: the
// pattern databases, package managers and editors use so that a crash leaves
// the old file or the new one. Every system call's result is checked, and
// each error names the path and strerror.
#include "loaders/atomic_write.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>  // rename, renameat2 (glibc 2.28+)
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>
#include <vector>

#include "ir/error.h"

namespace kiln::loaders {

namespace fs = std::filesystem;

namespace {

std::string errno_text(int e) { return std::strerror(e); }

const std::string kTempTag = ".kiln-tmp-";

// ".NAME.kiln-tmp-": how the temporaries beside NAME start.
std::string temp_prefix(const fs::path& target) { return "." + target.filename().string() + kTempTag; }

// PARENT/.NAME.kiln-tmp-PID-XXXXXX: the PID lets a later writer tell a
// leftover of a dead process from a writer still at work.
fs::path temp_name(const fs::path& target) {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  const char* chars = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string suffix;
  for (int i = 0; i < 6; ++i) suffix += chars[rng() % 36];
  return target.parent_path() / (temp_prefix(target) + std::to_string(getpid()) + "-" + suffix);
}

// The process id in a leftover's name after `prefix`, or 0 if the rest is
// not "PID-XXXXXX".
long leftover_pid(const std::string& name, const std::string& prefix) {
  std::string rest = name.substr(prefix.size());
  size_t dash = rest.find('-');
  if (dash == 0 || dash > 9 || rest.find_first_not_of("0123456789") != dash) return 0;
  return std::stol(rest.substr(0, dash));
}

// Removes what killed writers of `target` left beside it: entries named like
// its temporaries whose process is gone. Best effort: one that cannot be
// removed now is tried again next time.
void remove_leftovers(const fs::path& target) {
  const std::string prefix = temp_prefix(target);
  std::vector<fs::path> dead;
  std::error_code ec;
  for (auto it = fs::directory_iterator(target.parent_path(), ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    long pid = leftover_pid(name, prefix);
    if (pid > 0 && kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) dead.push_back(it->path());
  }
  for (const fs::path& p : dead) fs::remove_all(p, ec);
}

// The path to write: absolute, without a trailing '/', and for a symlink the
// path it points to (so the link is kept and its target replaced).
fs::path target_of(const std::string& path) {
  if (path.empty()) throw Error("", "cannot write to an empty path");
  fs::path p = fs::absolute(path).lexically_normal();
  if (!p.has_filename()) p = p.parent_path();
  std::error_code ec;
  if (fs::is_symlink(p, ec)) {
    fs::path resolved = fs::weakly_canonical(p, ec);
    if (!ec) p = resolved;
  }
  if (!p.has_filename() || p == p.root_path()) throw Error(path, "cannot replace the root folder");
  return p;
}

// A new empty directory beside `target`, under a temporary name.
fs::path create_temp_dir(const fs::path& target) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    fs::path tmp = temp_name(target);
    if (mkdir(tmp.c_str(), 0777) == 0) return tmp;
    if (errno != EEXIST)
      throw Error(tmp.string(), "cannot create a temporary directory: " + errno_text(errno));
  }
  throw Error(target.parent_path().string(), "cannot find a free temporary name");
}

// A new empty file beside `target`, under a temporary name, open in `fd`.
fs::path create_temp_file(const fs::path& target, int& fd) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    fs::path tmp = temp_name(target);
    fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) return tmp;
    if (errno != EEXIST)
      throw Error(tmp.string(), "cannot create a temporary file: " + errno_text(errno));
  }
  throw Error(target.parent_path().string(), "cannot find a free temporary name");
}

// Writes all of `bytes` to `fd`, fsyncs and closes it (closed on failure too).
void write_sync_close(int fd, const std::string& path, const std::string& bytes) {
  const char* p = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    ssize_t n = write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = n < 0 ? errno : EIO;
      close(fd);
      throw Error(path, "write failed: " + errno_text(e));
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) {
    int e = errno;
    close(fd);
    throw Error(path, "fsync failed: " + errno_text(e));
  }
  if (close(fd) != 0) throw Error(path, "close failed: " + errno_text(errno));
}

// fsync of every directory under `root`, and of root itself.
void sync_tree(const fs::path& root) {
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it); it.increment(ec)) {
    if (it->is_directory() && !it->is_symlink()) sync_dir(it->path().string());
  }
  if (ec) throw Error(root.string(), "cannot list: " + ec.message());
  sync_dir(root.string());
}

void rename_or_throw(const fs::path& from, const fs::path& to) {
  if (rename(from.c_str(), to.c_str()) != 0)
    throw Error(from.string(), "cannot rename it to " + to.string() + ": " + errno_text(errno));
}

// Puts the directory `tmp` in place of the existing directory `target`, and
// returns where the old one went.
fs::path swap_dir(const fs::path& tmp, const fs::path& target) {
#ifdef RENAME_EXCHANGE
  if (renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) == 0) return tmp;
  if (errno != EINVAL && errno != ENOSYS)
    throw Error(tmp.string(), "cannot swap it with " + target.string() + ": " + errno_text(errno));
#endif
  // No atomic exchange on this filesystem: the old one goes aside (rename()
  // may replace the empty directory made for it), then the new one in. A
  // crash between the two leaves `target` missing and the old one aside.
  fs::path aside = create_temp_dir(target);
  if (rename(target.c_str(), aside.c_str()) != 0) {
    int e = errno;
    rmdir(aside.c_str());
    throw Error(target.string(), "cannot move it aside to " + aside.string() + ": " + errno_text(e));
  }
  if (rename(tmp.c_str(), target.c_str()) != 0) {
    int e = errno;
    rename(aside.c_str(), target.c_str());
    throw Error(tmp.string(), "cannot rename it to " + target.string() + ": " + errno_text(e));
  }
  return aside;
}

std::string left_as_it_was(bool existed) {
  return existed ? "not replaced, left as it was: " : "not written: ";
}

}  // namespace

void write_new_file(const std::string& path, const std::string& bytes) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) throw Error(path, "cannot create: " + errno_text(errno));
  write_sync_close(fd, path, bytes);
}

void sync_dir(const std::string& dir) {
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw Error(dir, "cannot open to sync: " + errno_text(errno));
  // EINVAL: the filesystem does not sync directories (its entries are as
  // durable as it makes them).
  if (fsync(fd) != 0 && errno != EINVAL) {
    int e = errno;
    close(fd);
    throw Error(dir, "fsync failed: " + errno_text(e));
  }
  close(fd);
}

void replace_file(const std::string& path, const std::string& bytes) {
  const fs::path target = target_of(path);
  std::error_code ec;
  const bool existed = fs::exists(target, ec);
  remove_leftovers(target);
  fs::path tmp;
  try {
    int fd = -1;
    tmp = create_temp_file(target, fd);
    write_sync_close(fd, tmp.string(), bytes);
    rename_or_throw(tmp, target);
  } catch (const Error& e) {
    if (!tmp.empty()) unlink(tmp.c_str());
    throw Error(path, left_as_it_was(existed) + e.what());
  }
  sync_dir(target.parent_path().string());
}

void replace_dir(const std::string& dir, const std::function<void(const std::string& tmp)>& fill) {
  const fs::path target = target_of(dir);
  std::error_code ec;
  const fs::file_status status = fs::status(target, ec);
  const bool existed = fs::exists(status);
  if (existed && !fs::is_directory(status)) throw Error(dir, "exists and is not a directory");
  fs::create_directories(target.parent_path(), ec);
  if (ec) throw Error(target.parent_path().string(), "cannot create the folder: " + ec.message());
  remove_leftovers(target);

  fs::path tmp, old;
  try {
    tmp = create_temp_dir(target);
    fill(tmp.string());
    sync_tree(tmp);
    if (existed) old = swap_dir(tmp, target);
    else rename_or_throw(tmp, target);
  } catch (const Error& e) {
    if (!tmp.empty()) fs::remove_all(tmp, ec);
    throw Error(dir, left_as_it_was(existed) + e.what());
  } catch (...) {
    if (!tmp.empty()) fs::remove_all(tmp, ec);
    throw;
  }
  // The new directory is in place. If the old one cannot be removed now, it
  // is a leftover the next write removes.
  sync_dir(target.parent_path().string());
  if (!old.empty()) fs::remove_all(old, ec);
}

}  // namespace kiln::loaders
