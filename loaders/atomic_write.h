// Writes that never leave a half-written file or directory where a good one
// was: everything is written under a temporary name beside the target (same
// folder, so the same filesystem), fsynced, and only then renamed into place.
// A reader, or the next run after a crash or a kill, sees the old target or
// the new one, never a mix. On any failure the temporary is removed and the
// target is left exactly as it was.
//
// Temporary names are ".NAME.kiln-tmp-PID-XXXXXX" beside NAME. A writer that
// was killed leaves one behind; the next write of NAME removes every such
// leftover whose process is gone.
#pragma once

#include <functional>
#include <string>

namespace kiln::loaders {

// Writes `bytes` to a new file `path` (refusing to open one that exists),
// fsyncs and closes it. Errors name the path with strerror.
void write_new_file(const std::string& path, const std::string& bytes);

// fsyncs a directory, so that the entries just created or renamed in it last.
void sync_dir(const std::string& dir);

// Replaces the file `path` (or creates it) with one holding `bytes`.
void replace_file(const std::string& path, const std::string& bytes);

// Builds a new directory with `fill(tmp)` under a temporary name beside
// `dir` (`fill` writes its files with write_new_file, which fsyncs them;
// every directory under tmp is fsynced after it), then puts it in place of
// `dir`, which must be missing or a directory; missing parent folders are
// created. An existing `dir` is swapped out in one step (renameat2
// RENAME_EXCHANGE; by two renames where the filesystem cannot) and then
// removed whole, so nothing of it survives in the new one. If `dir` is a
// symlink, the directory it points to is replaced and the link kept.
void replace_dir(const std::string& dir, const std::function<void(const std::string& tmp)>& fill);

}  // namespace kiln::loaders
