// engine-run: load a model (directory, .onnx file or built-in), optionally fold its
// BatchNorms, compile it for a batch size and run it. See --help.
#include <cstdio>
#include <exception>
#include <string>

#include "engine/cli/commands.h"
#include "engine/cli/options.h"
#include "kiln/kiln.h"

// Errors are printed on one line, whatever a library put in them.
static std::string one_line(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

int main(int argc, char** argv) {
  using namespace kiln;
  try {
    cli::Options options = cli::parse_options(argc, argv);
    if (options.help) {
      std::fputs(cli::usage().c_str(), stdout);
      return 0;
    }
    if (options.compare) return cli::compare_model(options);
    if (options.verify) return cli::verify_model(options);
    return cli::run_model(options);
  } catch (const cli::UsageError& e) {
    std::fprintf(stderr, "engine-run: %s (see engine-run --help)\n", one_line(e.what()).c_str());
    return 2;
  } catch (const Error& e) {
    std::fprintf(stderr, "engine-run: %s\n", one_line(e.what()).c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "engine-run: internal error: %s\n", one_line(e.what()).c_str());
    return 1;
  }
}
