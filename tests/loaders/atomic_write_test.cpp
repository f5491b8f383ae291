// Writes by temporary + fsync + rename: the target ends up old or new,
// temporaries never stay, leftovers of killed writers are removed.
// (Real faults against engine-run: tests/reliability/catalogue_save_test.cpp.)
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "ir/error.h"
#include "loaders/atomic_write.h"
#include "tests/engine/run_command.h"

namespace fs = std::filesystem;
using kiln::test::dir_entries;
using kiln::test::read_file;
using kiln::Error;
using kiln::loaders::replace_dir;
using kiln::loaders::replace_file;
using kiln::loaders::write_new_file;

namespace {

// A process id that no process has: a child that has exited and been reaped.
pid_t dead_pid() {
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  waitpid(pid, nullptr, 0);
  return pid;
}

// fill for replace_dir: DIR/a.txt and DIR/sub/b.txt.
void fill_two_files(const std::string& tmp) {
  write_new_file(tmp + "/a.txt", "new a");
  fs::create_directory(tmp + "/sub");
  write_new_file(tmp + "/sub/b.txt", "new b");
}

}  // namespace

TEST_CASE("atomic_write: replace_file creates or replaces a file and leaves no temporary beside it") {
  fs::path dir = kiln::test::make_temp_dir("kiln-atomic");
  replace_file((dir / "y.npy").string(), "first");
  CHECK(read_file(dir / "y.npy") == "first");
  replace_file((dir / "y.npy").string(), "second, longer");
  CHECK(read_file(dir / "y.npy") == "second, longer");
  CHECK(dir_entries(dir) == std::set<std::string>{"y.npy"});
  fs::remove_all(dir);
}

TEST_CASE("atomic_write: replace_file into a missing folder fails naming the path and strerror") {
  fs::path dir = kiln::test::make_temp_dir("kiln-atomic");
  std::string path = (dir / "no" / "y.npy").string();
  std::string message = path + ": not written: ";
  CHECK_THROWS_WITH_AS(replace_file(path, "x"), doctest::Contains(message.c_str()), Error);
  CHECK_THROWS_WITH_AS(replace_file(path, "x"), doctest::Contains("No such file or directory"), Error);
  fs::remove_all(dir);
}

TEST_CASE("atomic_write: write_new_file refuses a file that exists") {
  fs::path dir = kiln::test::make_temp_dir("kiln-atomic");
  write_new_file((dir / "f").string(), "one");
  CHECK_THROWS_WITH_AS(write_new_file((dir / "f").string(), "two"),
                       doctest::Contains("f: cannot create: File exists"), Error);
  CHECK(read_file(dir / "f") == "one");
  fs::remove_all(dir);
}

TEST_CASE("atomic_write: replace_dir swaps in the new directory whole: nothing of the old one survives") {
  fs::path parent = kiln::test::make_temp_dir("kiln-atomic");
  fs::path dir = parent / "m";
  fs::create_directories(dir / "old_sub");
  std::ofstream(dir / "a.txt") << "old a";
  std::ofstream(dir / "old_sub" / "stale.txt") << "stale";
  replace_dir(dir.string(), fill_two_files);
  CHECK(dir_entries(dir) == std::set<std::string>{"a.txt", "sub"});
  CHECK(read_file(dir / "a.txt") == "new a");
  CHECK(read_file(dir / "sub" / "b.txt") == "new b");
  CHECK(dir_entries(parent) == std::set<std::string>{"m"});
  fs::remove_all(parent);
}

TEST_CASE("atomic_write: replace_dir creates a missing directory and its parents") {
  fs::path parent = kiln::test::make_temp_dir("kiln-atomic");
  replace_dir((parent / "x" / "y" / "m").string() + "/", fill_two_files);
  CHECK(read_file(parent / "x" / "y" / "m" / "a.txt") == "new a");
  CHECK(dir_entries(parent / "x" / "y") == std::set<std::string>{"m"});
  fs::remove_all(parent);
}

TEST_CASE("atomic_write: when fill throws, replace_dir leaves the old directory as it was and no temporary") {
  fs::path parent = kiln::test::make_temp_dir("kiln-atomic");
  fs::path dir = parent / "m";
  fs::create_directories(dir);
  std::ofstream(dir / "a.txt") << "old a";
  auto fail_halfway = [](const std::string& tmp) {
    write_new_file(tmp + "/a.txt", "new a");
    throw Error(tmp + "/b.txt", "write failed: No space left on device");
  };
  std::string message = dir.string() + ": not replaced, left as it was: ";
  CHECK_THROWS_WITH_AS(replace_dir(dir.string(), fail_halfway), doctest::Contains(message.c_str()), Error);
  CHECK(dir_entries(dir) == std::set<std::string>{"a.txt"});
  CHECK(read_file(dir / "a.txt") == "old a");
  CHECK(dir_entries(parent) == std::set<std::string>{"m"});
  fs::remove_all(parent);
}

TEST_CASE("atomic_write: replace_dir refuses a file where the directory should be") {
  fs::path parent = kiln::test::make_temp_dir("kiln-atomic");
  std::ofstream(parent / "m") << "a file";
  CHECK_THROWS_WITH_AS(replace_dir((parent / "m").string(), fill_two_files),
                       doctest::Contains("m: exists and is not a directory"), Error);
  CHECK(read_file(parent / "m") == "a file");
  CHECK(dir_entries(parent) == std::set<std::string>{"m"});
  fs::remove_all(parent);
}

TEST_CASE("atomic_write: replace_dir through a symlink replaces the directory it points to") {
  fs::path parent = kiln::test::make_temp_dir("kiln-atomic");
  fs::create_directories(parent / "real");
  std::ofstream(parent / "real" / "old.txt") << "old";
  fs::create_directory_symlink("real", parent / "link");
  replace_dir((parent / "link").string(), fill_two_files);
  CHECK(fs::is_symlink(parent / "link"));
  CHECK(dir_entries(parent / "real") == std::set<std::string>{"a.txt", "sub"});
  CHECK(dir_entries(parent) == std::set<std::string>{"link", "real"});
  fs::remove_all(parent);
}

TEST_CASE("atomic_write: the next write removes leftovers of dead writers of the same name, and only those") {
  fs::path parent = kiln::test::make_temp_dir("kiln-atomic");
  const std::string dead = std::to_string(dead_pid()), alive = std::to_string(getpid());
  for (const std::string& name :
       {".m.kiln-tmp-" + dead + "-abc123",          // a killed save of m: removed
        ".y.npy.kiln-tmp-" + dead + "-abc123",      // a killed write of y.npy: removed
        ".m.kiln-tmp-" + alive + "-abc123",         // a save of m still at work: kept
        ".other.kiln-tmp-" + dead + "-abc123",      // another directory's: kept
        std::string(".m.kiln-tmp-abc123"), "m.kiln-tmp-" + dead + "-abc123"}) {  // not the pattern: kept
    fs::create_directories(parent / name / "weights");
    std::ofstream(parent / name / "weights" / "w.npy") << "partial";
  }
  replace_dir((parent / "m").string(), fill_two_files);
  replace_file((parent / "y.npy").string(), "y");
  CHECK(dir_entries(parent) == std::set<std::string>{"m", "y.npy", ".m.kiln-tmp-" + alive + "-abc123",
                                                 ".other.kiln-tmp-" + dead + "-abc123",
                                                 ".m.kiln-tmp-abc123", "m.kiln-tmp-" + dead + "-abc123"});
  fs::remove_all(parent);
}
