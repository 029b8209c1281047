// The main of a fuzz target in the normal build: runs every input file of the
// corpus folders (or files) given once, without libFuzzer and without
// mutation, so that CTest replays each corpus on every build. Each input runs
// in a child process, so that one crash does not hide the next.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
// Optional, as in libFuzzer.
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc,
                                                          char*** argv);

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize)
    LLVMFuzzerInitialize(&argc, &argv);
  std::vector<fs::path> inputs;
  for (int i = 1; i < argc; ++i) {
    const fs::path arg = argv[i];
    if (fs::is_directory(arg)) {
      for (const auto& e : fs::recursive_directory_iterator(arg))
        if (e.is_regular_file())
          inputs.push_back(e.path());
    } else {
      inputs.push_back(arg);
    }
  }
  std::sort(inputs.begin(), inputs.end());
  if (inputs.empty()) {
    std::fprintf(stderr, "usage: %s <corpus folder | input file>...\n",
                 argv[0]);
    return 2;
  }
  size_t failed = 0;
  for (const auto& p : inputs) {
    std::ifstream in(p, std::ios::binary);
    const std::vector<char> bytes{std::istreambuf_iterator<char>(in), {}};
    if (!in.good() && !in.eof()) {
      std::fprintf(stderr, "cannot read %s\n", p.c_str());
      return 1;
    }
    std::fflush(stdout);
    const pid_t child = ::fork();
    if (child == 0) {
      LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()),
                             bytes.size());
      std::fflush(stdout);
      ::_exit(0);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    std::printf("%s %s (%zu bytes)", ok ? "ok    " : "FAILED", p.c_str(),
                bytes.size());
    if (WIFSIGNALED(status))
      std::printf(": killed by signal %d (%s)", WTERMSIG(status),
                  ::strsignal(WTERMSIG(status)));
    else if (!ok)
      std::printf(": exit status %d", WEXITSTATUS(status));
    std::printf("\n");
    failed += ok ? 0 : 1;
  }
  std::printf("%zu inputs replayed, %zu failed\n", inputs.size(), failed);
  return failed == 0 ? 0 : 1;
}
