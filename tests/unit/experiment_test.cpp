// Experiment folders, status.yaml and atomic files.
#include <mip/core/experiment.hpp>
#include <mip/core/files.hpp>
#include <mip/core/folder.hpp>
#include <mip/sdk/error.hpp>

#include "common/test_util.hpp"

namespace mip {
// Named: each test executable is one unity build.
namespace experiment_test {

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

TEST(Folder, Crc32IsTheZipCrcAndContinues) {
  const std::string text = "123456789";
  EXPECT_EQ(crc_hex(crc32_update(0, text.data(), text.size())), "cbf43926");
  const uint32_t half = crc32_update(0, text.data(), 4);
  EXPECT_EQ(crc32_update(half, text.data() + 4, 5),
            crc32_update(0, text.data(), text.size()));
  EXPECT_EQ(text_digest(text), "cbf43926");
}

TEST(Folder, TheLockRefusesASecondHolderAndIsReleased) {
  test::TempDir d;
  {
    FolderLock a;
    a.acquire(d.str());
    EXPECT_EQ(test::read(d.path() / ".lock"),
              std::to_string(::getpid()) + "\n");
    // flock locks belong to the open file: a second open in this process
    // conflicts as a second process would.
    FolderLock b;
    EXPECT_HAS(test::error_of([&] { b.acquire(d.str()); }),
               "is in use by another process (PID " +
                   std::to_string(::getpid()) + ",");
  }
  FolderLock c;
  c.acquire(d.str());
  EXPECT_TRUE(c.held());
}

TEST(Folder, RepairCsvKeepsTheRowsTheCheckpointCovers) {
  test::TempDir d;
  const std::string p = d.write(
      "t.csv", "loss,episode\n0.5,000000\n0.4,000001\n0.3,000002\n0.2,0000");
  EXPECT_EQ(repair_csv(p, 1, true),
            "t.csv: a row cut in half and 1 rows after episode 1");
  EXPECT_EQ(test::read(p), "loss,episode\n0.5,000000\n0.4,000001\n");
  EXPECT_EQ(repair_csv(p, 1, true), "");
  EXPECT_HAS(test::error_of([&] { repair_csv(p, 3, true); }),
             "no row for episode 2");
  EXPECT_EQ(repair_csv(p, -1, true), "t.csv: 2 rows after episode -1");
  EXPECT_EQ(test::read(p), "loss,episode\n");
  const std::string cut = d.write("c.csv", "loss,epi");
  EXPECT_EQ(repair_csv(cut, -1, false), "c.csv: a partial header");
  EXPECT_FALSE(std::filesystem::exists(cut));
}

}  // namespace experiment_test
}  // namespace mip
