// The catalogue of faults during a save: each row writes over a good model
// directory (engine-run --save DIR) or a good tensor (--output Y.npy) while
// something goes wrong, and checks that the old files survive whole: DIR
// holds exactly the files it held, still runs and gives the old output bit
// for bit, Y.npy keeps its bytes, and no temporary is left behind (after a
// kill: none once the next save into DIR has run).
//
// The faults are real, not described: a file-size limit (`ulimit -f`, with
// SIGXFSZ ignored so write() fails with EFBIG), the immutable flag on the
// model folder (chattr +i: even root cannot add, remove or rename its
// entries), a read-only bind mount in a private mount namespace, and SIGKILL
// of a running engine-run once it has written a given number of bytes.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <linux/fs.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "tests/engine/run_command.h"

namespace fs = std::filesystem;
using kiln::test::dir_entries;
using kiln::test::read_file;
using kiln::test::CommandResult;
using kiln::test::run_command;
using kiln::test::run_engine;

namespace {

const std::string kEngineRun = KILN_ENGINE_RUN;

// Every regular file under `dir` by relative path, with its bytes.
std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> files;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it); it.increment(ec)) {
    if (it->is_regular_file()) files[fs::relative(it->path(), dir).string()] = read_file(it->path());
  }
  return files;
}

// Bytes in the regular files under `dir`, while another process writes there
// (files may vanish under the walk: it counts what it saw).
uint64_t tree_bytes(const fs::path& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it); it.increment(ec)) {
    std::error_code size_ec;
    uint64_t size = it->is_regular_file(size_ec) ? it->file_size(size_ec) : 0;
    if (!size_ec) total += size;
  }
  return total;
}

// Runs `command` through /bin/sh and kills it with SIGKILL as soon as the
// files under `watch` have grown by `bytes`. exit_code is 137 when the kill
// landed, as with run_command; stdout and stderr are dropped.
CommandResult run_killed_after(const std::string& command, const fs::path& watch, uint64_t bytes) {
  const uint64_t start = tree_bytes(watch);
  pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_RDWR);
    dup2(null, 0), dup2(null, 1), dup2(null, 2);
    execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (tree_bytes(watch) >= start + bytes) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    usleep(200);
  }
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

// chattr +i / -i. False where the filesystem or the process's capabilities
// do not allow it.
bool set_immutable(const fs::path& path, bool on) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  int flags = 0;
  bool ok = ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0;
  if (ok) {
    flags = on ? (flags | FS_IMMUTABLE_FL) : (flags & ~FS_IMMUTABLE_FL);
    ok = ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
  }
  close(fd);
  return ok;
}

// `command` with `folder` bind-mounted read-only in a private mount
// namespace (nothing outside the command sees the mount); nullopt where
// unshare(1) cannot make one.
std::optional<CommandResult> run_on_read_only_mount(const fs::path& folder, const std::string& command) {
  if (run_command("unshare --mount --propagation private true").exit_code != 0) return std::nullopt;
  std::string f = folder.string();
  return run_command("unshare --mount --propagation private sh -c 'mount --bind -o ro " + f + " " + f +
                     " && exec " + command + "'");
}

// The starting point of every row: the tutorial, fused, saved by engine-run
// as PARENT/model, and its output for the seeded input as PARENT/y.npy.
struct Target {
  fs::path parent, dir, y;
  std::map<std::string, std::string> files;  // DIR as saved
  std::string y_bytes;
};

Target make_target() {
  Target t;
  t.parent = kiln::test::make_temp_dir("kiln-save-fault");
  t.dir = t.parent / "model";
  t.y = t.parent / "y.npy";
  auto r = run_engine("tutorial --fuse --save " + t.dir.string() + " --output " + t.y.string());
  REQUIRE(r.exit_code == 0);
  t.files = snapshot(t.dir);
  t.y_bytes = read_file(t.y);
  return t;
}

// engine-run DIR's output for the seeded input, as NPY bytes.
std::string output_of(const fs::path& dir) {
  fs::path out = kiln::test::make_temp_dir("kiln-save-check");
  auto r = run_engine(dir.string() + " --output " + (out / "y.npy").string());
  std::string bytes = r.exit_code == 0 ? read_file(out / "y.npy") : "engine-run failed: " + r.err;
  fs::remove_all(out);
  return bytes;
}

std::string save_resnet18(const Target& t) {
  return kEngineRun + " resnet18 --fuse --save " + t.dir.string();
}

std::string output_resnet18(const Target& t) {
  return kEngineRun + " resnet18 --output " + t.y.string();
}

struct Fault {
  std::string name;
  // Runs the failing command; nullopt when the fault cannot be made here.
  std::function<std::optional<CommandResult>(const Target&)> inject;
  std::string message;  // in the one-line error; empty for a kill (exit 137, no message)
};

std::vector<Fault> faults() {
  std::vector<Fault> rows = {
      // dash's ulimit -f counts 512-byte blocks: 4 MiB stops the fused
      // ResNet18 at layer4's first conv weight (4.7 MB), after 30-odd files.
      {"save: a file-size limit stops the write partway (EFBIG)",
       [](const Target& t) { return run_command("trap '' XFSZ; ulimit -f 8192; exec " + save_resnet18(t)); },
       "File too large"},
      // 1 KiB: less than ResNet18's [1, 1000] output.
      {"output: a file-size limit stops the write partway (EFBIG)",
       [](const Target& t) { return run_command("trap '' XFSZ; ulimit -f 2; exec " + output_resnet18(t)); },
       "File too large"},
      {"save: the model folder and its weights/ are immutable",
       [](const Target& t) -> std::optional<CommandResult> {
         if (!set_immutable(t.dir / "weights", true) || !set_immutable(t.dir, true)) {
           set_immutable(t.dir / "weights", false);
           return std::nullopt;
         }
         CommandResult r = run_command(save_resnet18(t));
         set_immutable(t.dir, false);
         set_immutable(t.dir / "weights", false);
         return r;
       },
       "Operation not permitted"},
      {"save: the parent folder is a read-only mount",
       [](const Target& t) { return run_on_read_only_mount(t.parent, save_resnet18(t)); },
       "Read-only file system"},
      {"output: the folder is a read-only mount",
       [](const Target& t) { return run_on_read_only_mount(t.parent, output_resnet18(t)); },
       "Read-only file system"},
  };
  // The fused ResNet18 is 46.8 MB; each kill lands well before the last byte.
  for (uint64_t bytes : {uint64_t(1), uint64_t(256) << 10, uint64_t(4) << 20, uint64_t(16) << 20,
                         uint64_t(32) << 20}) {
    rows.push_back({"save: SIGKILL after " + std::to_string(bytes) + " bytes",
                    [bytes](const Target& t) {
                      return run_killed_after("exec " + save_resnet18(t), t.parent, bytes);
                    },
                    ""});
  }
  return rows;
}

bool one_line(const std::string& s) { return !s.empty() && s.find('\n') == s.size() - 1; }

}  // namespace

TEST_CASE("catalogue: the fault rows start from a model directory that runs and its output") {
  Target t = make_target();
  CHECK(t.files.count("graph.json") == 1);
  CHECK(t.files.size() > 1);
  CHECK(output_of(t.dir) == t.y_bytes);
  CHECK(dir_entries(t.parent) == std::set<std::string>{"model", "y.npy"});
  fs::remove_all(t.parent);
}

TEST_CASE("catalogue: every fault during a save or an --output write leaves the old files whole") {
  for (const Fault& f : faults()) {
    CAPTURE(f.name);
    Target t = make_target();
    std::optional<CommandResult> r = f.inject(t);
    if (!r) {
      MESSAGE("skipped '" << f.name << "': this machine cannot make the fault (needs root's "
                             "CAP_LINUX_IMMUTABLE, or unshare --mount)");
      fs::remove_all(t.parent);
      continue;
    }
    if (f.message.empty()) {
      CHECK(r->exit_code == 128 + SIGKILL);
    } else {
      CHECK(r->exit_code == 1);
      CHECK(one_line(r->err));
      CHECK(r->err.rfind("engine-run: ", 0) == 0);
      CHECK_MESSAGE(r->err.find(f.message) != std::string::npos, "stderr: " << r->err);
    }
    CHECK(snapshot(t.dir) == t.files);
    CHECK(output_of(t.dir) == t.y_bytes);
    CHECK(read_file(t.y) == t.y_bytes);
    if (f.message.empty()) {  // a killed save leaves its temporary: the next save removes it
      auto next = run_engine("tutorial --fuse --save " + t.dir.string());
      CHECK_MESSAGE(next.exit_code == 0, "stderr: " << next.err);
      CHECK(snapshot(t.dir) == t.files);
    }
    CHECK(dir_entries(t.parent) == std::set<std::string>{"model", "y.npy"});
    fs::remove_all(t.parent);
  }
}
