// Experiment folders, status.yaml and atomic files.
#include <mip/core/experiment.hpp>
#include <mip/core/files.hpp>
#include <mip/sdk/error.hpp>

#include "common/test_util.hpp"

namespace mip {
namespace {

TEST(Files, AtomicWriteReplacesWholeAndLeavesNoTemporary) {
  test::TempDir d;
  const std::string path = (d.path() / "status.yaml").string();
  write_file_atomic(path, "state: running\n");
  write_file_atomic(path, "state: finished\n");
  EXPECT_EQ(test::read(path), "state: finished\n");
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(d.path())) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1u);
  EXPECT_THROW(write_file_atomic((d.path() / "no/such/dir/x").string(), "x"),
               Error);
}

TEST(Experiment, FolderLayoutAndStatus) {
  test::TempDir d;
  const std::string dir = create_experiment_dir(d.str(), "Prob", "Mod", "tag");
  EXPECT_TRUE(
      std::filesystem::is_directory(std::filesystem::path(dir) / "models"));
  EXPECT_EQ(std::filesystem::path(dir).parent_path(),
            d.path() / "Prob" / "Mod");
  EXPECT_NE(dir.find("_tag"), std::string::npos);
  const std::string second =
      create_experiment_dir(d.str(), "Prob", "Mod", "tag");
  EXPECT_NE(dir, second);
  RunStatus s;
  s.state = RunState::kInterrupted;
  s.terminal_cause = "Interrupted by SIGINT";
  write_status(dir, s);
  const std::string text =
      test::read(std::filesystem::path(dir) / "status.yaml");
  EXPECT_NE(text.find("state: interrupted"), std::string::npos) << text;
  EXPECT_NE(text.find("terminal_cause: Interrupted by SIGINT"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace mip
